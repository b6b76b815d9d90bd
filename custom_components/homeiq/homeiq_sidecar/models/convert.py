"""Conversion of a model into a cache entry: OpenVINO IR with 8-bit weights plus tokenizer IR.

Two routes:
- torch installed: optimum-intel exports the HF checkpoint to FP32 IR;
- no torch: an ONNX file (from the model repo or a local path) goes through
  ``openvino.convert_model``.
Either way nncf then makes it INT8 (quantize.py: static where it pays, weight-only else).
Tokenizers become IR with ``openvino_tokenizers.convert_tokenizer`` (needs ``transformers``,
not torch). Everything heavy is imported inside the functions: this module is never imported
on the runtime path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import importlib.util
import json
import logging
import os
from pathlib import Path
import re
import shutil
from typing import Any

from . import quantize
from .errors import ModelUnavailableError
from .names import is_hub_id
from .store import staging, write_manifest

_LOGGER = logging.getLogger(__name__)

# Files of the converted entry, by role.
MAIN_IR = {"embed": ("openvino_model",), "rerank": ("openvino_model",)}
SEQ2SEQ_IR = ("openvino_encoder_model", "openvino_decoder_model")
TOKENIZER_IR = "openvino_tokenizer"

_OPTIMUM_TASK = {
    "embed": "feature-extraction",
    "rerank": "text-classification",
    "classify": "text2text-generation",  # no "-with-past": a plain decoder scores labels in one pass
}
_ONNX_FILES = {
    "embed": {"openvino_model": ("model.onnx",)},
    "rerank": {"openvino_model": ("model.onnx",)},
    "classify": {
        "openvino_encoder_model": ("encoder_model.onnx",),
        "openvino_decoder_model": ("decoder_model.onnx",),
    },
}
# The output each IR keeps, the one the runner reads (optimum's IR has only this one). Hub ONNX
# exports can carry more: optimum's (and Xenova's) T5 decoder_model.onnx also returns every
# layer's present key/values, which nothing here uses.
_ONNX_OUTPUT = {
    "embed": {"openvino_model": "last_hidden_state"},
    "rerank": {"openvino_model": "logits"},
    "classify": {"openvino_encoder_model": "last_hidden_state", "openvino_decoder_model": "logits"},
}
_HUB_MODEL_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]
_HUB_TOKENIZER_FILES = ["*.json", "*.txt", "*.model"]
# Hub downloads for a conversion, inside the model cache (see _hub_cache, _drop_download).
HUB_DIR = ".hub"
_DEFAULT_MAX_LENGTH = {"embed": 256, "rerank": 512, "classify": 512}


def torch_available() -> bool:
    """True when the export route (torch + optimum-intel) can run in this environment."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "optimum"))


def ir_names(role: str) -> tuple[str, ...]:
    return SEQ2SEQ_IR if role == "classify" else MAIN_IR[role]


def convert(role: str, source: str, final: Path, *, precision: str) -> dict[str, Any]:
    """Convert ``source`` for ``role`` into the cache entry ``final``; return its manifest."""
    hub_cache = final.parent.parent / HUB_DIR
    model_dir, onnx_file, revision = _locate(role, source, hub_cache)
    _require_tools(precision)
    hf_tokenizer = _hf_tokenizer(model_dir)
    max_length = min(_max_length(role, model_dir, hf_tokenizer), 512)
    params = _params(role, model_dir)
    with staging(final) as tmp:
        if onnx_file is None and torch_available():
            route = "optimum-intel"
            with _export_with_optimum(role, model_dir, tmp) as models:
                methods, checks = _save(
                    role, models, tmp, precision, hf_tokenizer, max_length, params
                )
        else:
            route = "onnx"
            models = _convert_onnx(role, _onnx_paths(role, model_dir, onnx_file))
            methods, checks = _save(role, models, tmp, precision, hf_tokenizer, max_length, params)
        _convert_tokenizer(role, hf_tokenizer, max_length, tmp)
        manifest = write_manifest(
            tmp,
            role=role,
            source=source,
            revision=revision,
            precision=precision,
            route=route,
            params=params,
            quantization=_overall(methods),
            quantization_files=methods,
            quantization_checks=checks,
        )
    _LOGGER.info(
        "Converted %s for %s via %s (%s) into %s", source, role, route, _overall(methods), final
    )
    _drop_download(model_dir, hub_cache)
    return manifest


def _drop_download(model_dir: Path, hub_cache: Path) -> None:
    """Delete a checkpoint downloaded into the model cache once it is converted: the cache of a
    managed sidecar sits in Home Assistant's config folder, and its backups should not carry
    ~1.5 GB of source weights that only a re-conversion would read again."""
    try:
        repo = model_dir.resolve().relative_to(hub_cache.resolve()).parts[0]
    except (ValueError, IndexError):
        return  # a local path, or the operator's own hub cache: not ours to delete
    shutil.rmtree(hub_cache / repo, ignore_errors=True)


def _require_tools(precision: str) -> None:
    """Name every missing package at once, not one per attempt."""
    needed = ["transformers"] + (["nncf"] if precision == "int8" else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelUnavailableError(
            f"Converting a model needs {' and '.join(missing)} (torch is not needed): "
            "pip install -r requirements/convert.txt, or run scripts/download-models."
        )


def _overall(methods: dict[str, str]) -> str:
    """static-int8 only when every IR of the entry is; else the weaker method."""
    values = set(methods.values())
    return values.pop() if len(values) == 1 else quantize.WEIGHTS


def _locate(role: str, source: str, hub_cache: Path) -> tuple[Path, Path | None, str | None]:
    """(checkpoint dir with config + tokenizer, explicit ONNX file or None, revision)."""
    path = Path(source).expanduser()
    if path.suffix == ".onnx" and path.is_file():
        model_dir = path.parent.parent if path.parent.name == "onnx" else path.parent
        return model_dir, path, None
    if path.is_dir():
        return path, None, None
    if not is_hub_id(source):
        raise ModelUnavailableError(
            f"Model source {source!r} is neither a hub id nor an existing path."
        )
    return _download(role, source, hub_cache)


def _hub_cache(default: Path) -> Path | None:
    """Where hub downloads go: inside the model cache, so a first-use conversion that a request
    set off writes nothing outside the sidecar's data dir (and removing that dir removes it all);
    an operator's own HF_HUB_CACHE / HF_HOME wins (None: huggingface_hub's default from those)."""
    if os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME"):
        return None
    return default


def _download(role: str, source: str, hub_cache: Path) -> tuple[Path, Path | None, str | None]:
    try:
        from huggingface_hub import snapshot_download  # type: ignore[import-not-found,unused-ignore]
    except ImportError as err:
        raise ModelUnavailableError(
            f"Cannot download {source}: huggingface_hub is not installed. "
            "Install requirements/export.txt or run scripts/download-models."
        ) from err
    with_torch = torch_available()
    patterns = list(_HUB_MODEL_FILES if with_torch else _HUB_TOKENIZER_FILES)
    if not with_torch:
        for names in _ONNX_FILES[role].values():
            # External weights: "model.onnx_data" (optimum), "model.onnx.data" (torch.onnx).
            for suffix in ("", "_data", ".data"):
                patterns += [f"onnx/{name}{suffix}" for name in names]
    try:
        local = Path(
            snapshot_download(
                source,
                allow_patterns=patterns,
                ignore_patterns=["openvino/*"],
                cache_dir=_hub_cache(hub_cache),
            )
        )
    except Exception as err:
        raise ModelUnavailableError(
            f"Could not fetch {source} from the model hub ({type(err).__name__}). "
            "Run scripts/download-models where there is internet, or configure a local path."
        ) from err
    revision = local.name if re.fullmatch(r"[0-9a-f]{40}", local.name) else None
    return local, None, revision


def _onnx_paths(role: str, model_dir: Path, onnx_file: Path | None) -> dict[str, Path]:
    if onnx_file is not None and role != "classify":
        return {"openvino_model": onnx_file}
    base = onnx_file.parent if onnx_file is not None else model_dir
    found: dict[str, Path] = {}
    for ir_name, candidates in _ONNX_FILES[role].items():
        for folder in (base, base / "onnx"):
            hits = [folder / name for name in candidates if (folder / name).is_file()]
            if hits:
                found[ir_name] = hits[0]
                break
        else:
            needed = " and ".join(n for names in _ONNX_FILES[role].values() for n in names)
            raise ModelUnavailableError(
                f"No ONNX export ({needed}) next to {model_dir}, and torch is not installed to "
                "export one. Install requirements/export.txt or run scripts/download-models."
            )
    return found


def _save(  # noqa: PLR0917
    role: str,
    models: dict[str, Any],
    tmp: Path,
    precision: str,
    hf_tokenizer: Any,
    max_length: int,
    params: dict[str, Any],
) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """INT8 (static where it pays, see quantize.py) or FP32; save each IR; return per IR the
    method and the accuracy figures measured (IRs without a check have none)."""
    import openvino as ov

    results: dict[str, quantize.Quantized] = {}
    items: dict[str, list[dict[str, Any]]] = {}
    if precision == "int8":
        items = quantize.calibration_for(role, models, hf_tokenizer, max_length, params)
    for ir_name, model in models.items():
        result = quantize.Quantized({"": model}, quantize.NONE, {})
        if precision == "int8":
            result = quantize.quantize(f"{role}/{ir_name}", model, items.get(ir_name))
        results[ir_name] = result
        for suffix, part in result.parts.items():
            ov.save_model(part, str(tmp / f"{ir_name}{suffix}.xml"), compress_to_fp16=False)
    return (
        {name: r.method for name, r in results.items()},
        {name: r.checks for name, r in results.items() if r.checks},
    )


def _convert_onnx(role: str, paths: dict[str, Path]) -> dict[str, Any]:
    import openvino as ov

    return {
        ir_name: _only_output(ov.convert_model(str(path)), _ONNX_OUTPUT[role][ir_name], path)
        for ir_name, path in paths.items()
    }


def _only_output(model: Any, name: str, path: Path) -> Any:
    """``model`` with only its ``name`` output; unchanged when it has no output of that name."""
    import openvino as ov

    index = next((i for i, port in enumerate(model.outputs) if name in port.get_names()), None)
    if index is None:
        _LOGGER.info("%s has no %r output; the runner reads its first one", path.name, name)
        return model
    if len(model.outputs) == 1:
        return model
    _LOGGER.debug("%s: keeping the %r output of %d", path.name, name, len(model.outputs))
    result = model.get_results()[index]
    return ov.Model([result], model.get_parameters(), model.get_friendly_name())


@contextmanager
def _export_with_optimum(role: str, model_dir: Path, tmp: Path) -> Iterator[dict[str, Any]]:
    """FP32 IR models from optimum-intel; the raw export is removed once they are saved."""
    import openvino as ov
    from optimum.exporters.openvino import main_export

    raw = tmp / "_export"
    main_export(
        str(model_dir),
        output=raw,
        task=_OPTIMUM_TASK[role],
        library_name="transformers",  # raw token states out; our own masked mean pooling
        stateful=False,
        convert_tokenizer=False,
    )
    core = ov.Core()
    models: dict[str, Any] = {}
    for ir_name in ir_names(role):
        xml = raw / f"{ir_name}.xml"
        if not xml.is_file():
            raise ModelUnavailableError(
                f"optimum-intel did not produce {xml.name} for {model_dir}."
            )
        models[ir_name] = core.read_model(str(xml))
    try:
        yield models
    finally:
        models.clear()
        shutil.rmtree(raw, ignore_errors=True)


def _hf_tokenizer(model_dir: Path) -> Any:
    try:
        import transformers
    except ImportError as err:
        raise ModelUnavailableError(
            "Converting a tokenizer needs the transformers package (torch is not needed): "
            "pip install -r requirements/convert.txt, or run scripts/download-models."
        ) from err
    return transformers.AutoTokenizer.from_pretrained(str(model_dir))


def _convert_tokenizer(role: str, hf_tokenizer: Any, max_length: int, tmp: Path) -> None:
    import openvino as ov
    from openvino_tokenizers import convert_tokenizer

    inputs = 2 if role == "rerank" else 1
    ov_tokenizer = convert_tokenizer(
        hf_tokenizer, max_length=max_length, truncation=True, number_of_inputs=inputs
    )
    ov.save_model(ov_tokenizer, str(tmp / f"{TOKENIZER_IR}.xml"))


def _max_length(role: str, model_dir: Path, hf_tokenizer: Any) -> int:
    sbert = model_dir / "sentence_bert_config.json"
    if role == "embed" and sbert.is_file():
        value = json.loads(sbert.read_text()).get("max_seq_length")
        if isinstance(value, int):
            return value
    limit = getattr(hf_tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 100_000:
        return limit
    return _DEFAULT_MAX_LENGTH[role]


def _params(role: str, model_dir: Path) -> dict[str, Any]:
    """What the runtime needs from config.json, so it never has to read the checkpoint."""
    config = json.loads((model_dir / "config.json").read_text())
    if role == "classify":
        pad = int(config.get("pad_token_id") or 0)
        start = config.get("decoder_start_token_id")
        return {"pad_token_id": pad, "decoder_start_token_id": int(pad if start is None else start)}
    if role == "rerank":
        return {"num_labels": len(config.get("id2label") or {"0": "LABEL_0"})}
    return {"hidden_size": int(config.get("hidden_size", 0))}
