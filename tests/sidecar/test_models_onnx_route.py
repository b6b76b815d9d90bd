"""The torch-free conversion route for every role, against the optimum-intel route's entries.

ONNX files shaped like the hub's (Xenova/optimum exports, built by build_tiny_models) go through
``openvino.convert_model`` and nncf in this venv, which has no torch. The entry must be
interchangeable with the one optimum-intel made from the same tiny checkpoint: same IR inputs and
outputs, same INT8 method per IR, 8-bit weights, and the same answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest

from homeiq_sidecar.models import DEFAULT_CATEGORIES, ModelManager
from homeiq_sidecar.models.convert import convert, torch_available
from homeiq_sidecar.models.store import entry_dir, read_manifest
from tests.export.tiny_models import cached_entry, ensure_tiny_models
from tests.sidecar.test_models_int8 import assert_8bit_weights, assert_quantization

pytest.importorskip("nncf", reason="the torch-free conversion route needs nncf")
pytest.importorskip("transformers", reason="tokenizer conversion needs transformers")

# The file a user points the route at ("path"); "repo" is the checkpoint folder with onnx/ in it.
ONNX_FILE = {
    "embed": "onnx/model.onnx",
    "rerank": "onnx/model.onnx",
    "classify": "onnx/encoder_model.onnx",
}
CASES = [
    ("embed", "path"),
    ("embed", "repo"),
    ("rerank", "path"),
    ("rerank", "repo"),
    ("classify", "path"),
    ("classify", "repo"),
]
# Both entries run in f32: the comparison is of the conversions, not of the CPU's bf16.
F32 = {"INFERENCE_PRECISION_HINT": "f32"}

QUERIES = [
    "the kitchen light turns on in the morning",
    "lock the door at night",
    "climate.office switches to heat at about 06:30 on weekdays",
]
DOCUMENTS = [
    "the kitchen light turns on at 07:00 on weekdays",
    "the front door locks at 23:00 every night",
    "heating turns off when a window opens",
    "the living room blinds close at sunset",
    "a",
    "the washing machine finishes and the dryer starts within ten minutes",
    "garage door opens when anna arrives home",
    "light.kitchen_1 turns on about 40 s after binary_sensor.hallway_motion turns on.",
    "the tv switches off at midnight",
    "the thermostat is set to 21 degrees when someone comes home",
]
HABITS = [
    "the kitchen light turns on at 07:00 on weekdays",
    "the front door locks at 23:00 every night",
    "heating turns off when a window opens",
    "the living room blinds close at sunset",
    "the washing machine finishes and the dryer starts",
    "garage door opens when anna arrives home",
]
# Labels the tiny random T5 does not answer the same way for every habit.
DEVICES = ["lamp", "lock", "boiler", "fan", "vacuum", "alarm"]


@pytest.fixture(scope="session")
def built() -> Path:
    return ensure_tiny_models()


def _source(built: Path, role: str, form: str) -> str:
    checkpoint = built / "hf" / role
    return str(checkpoint / ONNX_FILE[role]) if form == "path" else str(checkpoint)


_CONVERTED: dict[tuple[str, str], Path] = {}


@pytest.fixture
def converted(
    built: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Path:
    """The route's cache entry for the test's (role, form), converted once per session."""
    role, form = request.node.callspec.params["role"], request.node.callspec.params["form"]
    if form == "repo" and torch_available():
        pytest.skip("with torch installed a checkpoint folder takes the optimum-intel route")
    key = (role, form)
    if key not in _CONVERTED:
        source = _source(built, role, form)
        cache = tmp_path_factory.mktemp(f"onnx-{role}-{form}")
        entry = entry_dir(cache, role, source, "int8")
        convert(role, source, entry, precision="int8")
        _CONVERTED[key] = entry
    return _CONVERTED[key]


@contextlib.asynccontextmanager
async def _both(
    built: Path, converted: Path, cache: Path, role: str
) -> AsyncIterator[tuple[ModelManager, ModelManager]]:
    """The ONNX-route entry and the optimum-route entry of ``role``, both computing in f32."""
    onnx = ModelManager(cache_dir=cache, models={role: str(converted)}, ov_config=F32)
    optimum = ModelManager(
        cache_dir=cache, models={role: str(cached_entry(built / "cache", role))}, ov_config=F32
    )
    try:
        yield onnx, optimum
    finally:
        await onnx.close()
        await optimum.close()


def _signature(xml: Path) -> tuple[list[set[str]], list[set[str]]]:
    model = ov.Core().read_model(str(xml))
    inputs = sorted((set(port.get_names()) for port in model.inputs), key=sorted)
    outputs = sorted((set(port.get_names()) for port in model.outputs), key=sorted)
    return inputs, outputs


def _manifest(entry: Path) -> dict[str, Any]:
    manifest = read_manifest(entry, verify_hashes=True)
    assert manifest is not None
    return manifest


@pytest.mark.parametrize(("role", "form"), CASES)
def test_onnx_route_entry_is_int8_like_optimum(
    built: Path, converted: Path, role: str, form: str
) -> None:
    manifest = _manifest(converted)
    assert manifest["route"] == "onnx"
    assert manifest["source"] == _source(built, role, form)
    assert_8bit_weights(converted, manifest)
    assert_quantization(converted, manifest, role)  # the same method per IR as optimum-intel's
    reference = cached_entry(built / "cache", role)
    optimum = _manifest(reference)
    assert optimum["route"] == "optimum-intel"
    assert set(manifest["files"]) == set(optimum["files"])
    assert manifest["params"] == optimum["params"]
    # Same inputs and outputs by name: the runners cannot tell the two entries apart. The T5
    # decoder_model.onnx also returns every layer's present key/values; the route keeps logits.
    # The split-off token table's one output keeps a graph-internal name (read by position).
    for name in (n for n in manifest["files"] if n.endswith(".xml") and "tokenizer" not in n):
        got_in, got_out = _signature(converted / name)
        want_in, want_out = _signature(reference / name)
        assert got_in == want_in, name
        if name.endswith("_embeddings.xml"):
            assert len(got_out) == len(want_out) == 1
        else:
            assert got_out == want_out, name


@pytest.mark.parametrize(("role", "form"), [("embed", "path"), ("embed", "repo")])
async def test_onnx_embed_means_the_same(
    built: Path, converted: Path, tmp_path: Path, role: str, form: str
) -> None:
    async with _both(built, converted, tmp_path, role) as (onnx, optimum):
        got, want = await onnx.embed(HABITS), await optimum.embed(HABITS)
    assert np.min(np.sum(got * want, axis=1)) > 0.99


@pytest.mark.parametrize(("role", "form"), [("rerank", "path"), ("rerank", "repo")])
async def test_onnx_rerank_scores_like_optimum(
    built: Path, converted: Path, tmp_path: Path, role: str, form: str
) -> None:
    async with _both(built, converted, tmp_path, role) as (onnx, optimum):
        for query in QUERIES:
            got = await onnx.rerank(query, DOCUMENTS)
            want = await optimum.rerank(query, DOCUMENTS)
            # Both are static INT8 of the same weights, but of two graphs: nncf places its
            # quantizers differently (optimum's attention is one SDPA op, the ONNX one MatMuls),
            # and on this random model each is ~0.06 from float32. Measured: at most 0.10 apart,
            # correlation 0.97 or more. A graph that computed something else would not be.
            np.testing.assert_allclose(got, want, atol=0.15)
            assert np.corrcoef(got, want)[0, 1] > 0.9, (query, got, want)
            assert float(np.ptp(want)) > 0.3  # the scores spread: the check can fail


@pytest.mark.parametrize(("role", "form"), [("classify", "path"), ("classify", "repo")])
async def test_onnx_classify_answers_like_optimum(
    built: Path, converted: Path, tmp_path: Path, role: str, form: str
) -> None:
    async with _both(built, converted, tmp_path, role) as (onnx, optimum):
        for categories in (DEFAULT_CATEGORIES, DEVICES):
            got = await onnx.classify(HABITS, categories=categories)
            want = await optimum.classify(HABITS, categories=categories)
            # Weight-only INT8 of the same weights on both sides: the same numbers, near enough.
            for mine, theirs in zip(got, want, strict=True):
                assert (mine.category, mine.priority) == (theirs.category, theirs.priority)
                for field in ("category_scores", "priority_scores"):
                    a, b = getattr(mine, field), getattr(theirs, field)
                    assert a.keys() == b.keys()
                    np.testing.assert_allclose(list(a.values()), list(b.values()), atol=5e-3)
        # Not one answer for everything: the labels compared above depend on the habit.
        assert len({r.category for r in want}) > 1
