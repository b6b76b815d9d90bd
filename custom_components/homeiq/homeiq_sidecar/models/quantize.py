"""INT8 for a converted model: static (weights and activations) where it pays, weight-only else.

Static INT8 (``nncf.quantize`` with habit-like calibration inputs) lets the CPU run the
MatMuls in int8 (VNNI/AMX) instead of decompressing 8-bit weights to bf16/f32 on every call,
which roughly halves the reranker's time. When it is not wanted for a model, or fails, the
weight-only route (``nncf.compress_weights``, INT8_ASYM) is used and the manifest says so.
Imported only when converting (needs nncf).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import logging
from typing import Any

import numpy as np

from . import calibration
from .errors import ModelUnavailableError

_LOGGER = logging.getLogger(__name__)

STATIC = "static-int8"
WEIGHTS = "weights-int8"
NONE = "none"


@dataclass(frozen=True)
class StaticPlan:
    """How one IR gets static INT8.

    keep_float: regexes of MatMuls left out of activation quantization (their weights still get
    8 bits, weight-only). The accuracy bars, each checked against the float model on the
    calibration inputs; below one the IR falls back to weight-only (logged, and the manifest
    keeps the figure):
    min_cosine: lowest cosine of the mask-pooled outputs (embeddings);
    min_rank_agreement: Spearman correlation of the first output logit over all inputs (a
    cross-encoder's relevance: the enrichment keeps the best 10 by it, so order is what counts).
    """

    keep_float: tuple[str, ...] = ()
    min_cosine: float | None = None
    min_rank_agreement: float | None = None


RANK_AGREEMENT_BAR = 0.95

# Which IRs get static INT8 (keyed role/IR name).
# - rerank: about twice as fast as weight-only (the MatMuls run in int8 on VNNI/AMX).
# - embed: all-MiniLM-L6-v2 fully static reached a cosine of only 0.987 to float32 (bar 0.99);
#   keeping the FFN down-projections of layers 0 and 4 (the widest activations) in float lifts
#   it to 0.995 (1000 texts: 1.05 s vs 1.24 s weight-only). Other embed models have other
#   outliers: the cosine check catches them and they stay weight-only.
# - T5: with a static encoder the tiny T5's label choice flipped against torch FP32 (T5
#   activations have large outliers), and the decoder's label scores are differences of
#   vocab-wide log-probs. The calibration code for both stays, so adding a key here is all it
#   takes to try again with real weights.
STATIC_IRS: dict[str, StaticPlan] = {
    # rerank: random-weight models keep 0.98 (tiny test model, bge-reranker-base config); the
    # bar is there to catch a real checkpoint whose activation outliers static INT8 cannot hold.
    "rerank/openvino_model": StaticPlan(min_rank_agreement=RANK_AGREEMENT_BAR),
    "embed/openvino_model": StaticPlan(
        keep_float=(r".*encoder\.layer\.[04]\.output\.dense/.*",), min_cosine=0.99
    ),
}


class AccuracyLostError(Exception):
    """Static INT8 moved the outputs too far from the float model."""

    def __init__(self, message: str, checks: Mapping[str, float]) -> None:
        super().__init__(message)
        self.checks = dict(checks)


@dataclass(frozen=True)
class Quantized:
    """One IR's INT8 result: the IRs to save by name suffix ("" = the model itself, EMBEDDINGS =
    its split-off token-embedding table), the method, and the accuracy figures measured."""

    parts: dict[str, Any]
    method: str
    checks: dict[str, float]


def _nncf() -> Any:
    try:
        import nncf
    except ImportError as err:
        raise ModelUnavailableError(
            "8-bit compression needs the nncf package (torch is not needed): "
            "pip install -r requirements/convert.txt, or run scripts/download-models "
            "where it is installed."
        ) from err
    return nncf


def _declared(model: Any) -> set[str]:
    return {name for port in model.inputs for name in port.get_names()}


def _fit(model: Any, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the inputs the model declares (token_type_ids differs between exports)."""
    names = _declared(model)
    fitted = [{k: v for k, v in item.items() if k in names} for item in items]
    for item in fitted:
        if "token_type_ids" in names and "token_type_ids" not in item:
            item["token_type_ids"] = np.zeros_like(item["input_ids"])
    return fitted


def weights_only(model: Any) -> Any:
    nncf = _nncf()
    return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)


def static(
    model: Any, items: Sequence[Mapping[str, Any]], plan: StaticPlan | None = None
) -> tuple[Any, dict[str, float]]:
    """``nncf.quantize`` the model; return it with the plan's accuracy figures (see _check)."""
    nncf = _nncf()
    plan = plan or StaticPlan()
    data = _fit(model, items)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(data),
        model_type=nncf.ModelType.TRANSFORMER,  # keeps softmax/layer-norm inputs in float
        subset_size=len(data),
        ignored_scope=nncf.IgnoredScope(patterns=list(plan.keep_float), validate=False),
    )
    if plan.keep_float:
        quantized = weights_only(quantized)  # the MatMuls kept in float still store 8-bit weights
    return quantized, _check(plan, model, quantized, data)


def _check(
    plan: StaticPlan, model: Any, quantized: Any, data: Sequence[Mapping[str, Any]]
) -> dict[str, float]:
    """Measure the plan's accuracy figures; raise AccuracyLostError when one is below its bar."""
    checks: dict[str, float] = {}
    for name, bar, measure in (
        ("pooled_cosine", plan.min_cosine, pooled_cosine),
        ("rank_agreement", plan.min_rank_agreement, rank_agreement),
    ):
        if bar is None:
            continue
        checks[name] = value = round(measure(model, quantized, data), 4)
        if value < bar:
            raise AccuracyLostError(f"{name.replace('_', ' ')} {value:.4f} < {bar}", checks)
    return checks


def _compiled_pair(reference: Any, candidate: Any) -> tuple[Any, Any]:
    """The float reference in f32; the candidate with the runtime's defaults (bf16 where the CPU
    has it), as the sidecar will run it."""
    import openvino as ov

    core = ov.Core()
    return (
        core.compile_model(reference, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}),
        core.compile_model(candidate, "CPU"),
    )


def pooled_cosine(reference: Any, candidate: Any, items: Sequence[Mapping[str, Any]]) -> float:
    """Lowest cosine between the two models' mask-pooled outputs over ``items``."""
    ref, got = _compiled_pair(reference, candidate)
    lowest = 1.0
    for item in items:
        mask = item["attention_mask"][:, :, None].astype(np.float32)
        a, b = ((np.asarray(m(item)[0], np.float32) * mask).sum(axis=1) for m in (ref, got))
        cosine = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        lowest = min(lowest, float(cosine.min()))
    return lowest


def rank_agreement(reference: Any, candidate: Any, items: Sequence[Mapping[str, Any]]) -> float:
    """Spearman correlation of the two models' first output logit over ``items``.

    Ranks by double argsort (exact float ties do not occur in logits), then Pearson of ranks.
    """
    ref, got = _compiled_pair(reference, candidate)
    logits = np.array(
        [[float(np.asarray(m(item)[0]).ravel()[0]) for m in (ref, got)] for item in items]
    )
    ranks = logits.argsort(axis=0).argsort(axis=0).astype(np.float64)
    if len(items) < 2 or np.ptp(logits[:, 0]) == 0.0:
        return 0.0  # no order to keep: nothing shows the candidate keeps it
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])


def quantize(key: str, model: Any, items: Sequence[Mapping[str, Any]] | None) -> Quantized:
    """INT8 ``model`` (IR ``key`` = role/name): static where listed, calibrated and accurate
    enough (see StaticPlan), else 8-bit weights only."""
    plan = STATIC_IRS.get(key)
    checks: dict[str, float] = {}
    if plan is not None and items:
        try:
            parts, checks = _static_split(model, items, plan)
            return Quantized(parts, STATIC, checks)
        except ModelUnavailableError:
            raise
        except AccuracyLostError as err:
            checks = err.checks
            _LOGGER.info(
                "Static INT8 for %s lost accuracy (%s); using 8-bit weights only", key, err
            )
        except Exception:  # a graph nncf cannot calibrate: the weight-only route still works
            _LOGGER.warning(
                "Static INT8 failed for %s; using 8-bit weights only", key, exc_info=True
            )
    return Quantized({"": weights_only(model)}, WEIGHTS, checks)


EMBEDDINGS = "_embeddings"
EMBEDS_INPUT = "inputs_embeds"


def _static_split(
    model: Any, items: Sequence[Mapping[str, Any]], plan: StaticPlan
) -> tuple[dict[str, Any], dict[str, float]]:
    """Static INT8 body + weight-only embedding table, fed by the table's output."""
    import openvino as ov

    split = split_embeddings(model)
    if split is None:
        quantized, checks = static(model, items, plan)
        return {"": quantized}, checks
    table, body = split
    lookup = ov.Core().compile_model(table, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    fed = [
        {**item, EMBEDS_INPUT: np.asarray(lookup({"input_ids": item["input_ids"]})[0])}
        for item in _fit(model, items)
    ]
    quantized, checks = static(body, fed, plan)
    return {"": quantized, EMBEDDINGS: weights_only(table)}, checks


def _table_gather(model: Any) -> Any:
    """The Gather that reads the biggest constant table from input_ids: the token embeddings."""
    best: tuple[int, Any] | None = None
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Gather":
            continue
        data = op.input_value(0).get_node()
        while data.get_type_name() == "Convert":
            data = data.input_value(0).get_node()
        if data.get_type_name() != "Constant" or len(data.get_output_shape(0)) != 2:
            continue
        size = int(np.prod(list(data.get_output_shape(0))))
        if best is None or size > best[0]:
            best = (size, op)
    return None if best is None else best[1]


def split_embeddings(model: Any) -> tuple[Any, Any] | None:
    """(input_ids -> token embeddings, rest of the model with an ``inputs_embeds`` input).

    Why: with activations quantized, OpenVINO's CPU plugin runs its low-precision passes and
    unpacks an 8-bit embedding table to f32 while compiling (bge-reranker-base: 250k x 768,
    +1 GB RSS, 1.8 GB peak). A table in a model of its own stays 8-bit (u8 Gather), so the
    reranker keeps the memory of the weight-only route with the speed of the static one.
    """
    from openvino import Model, PartialShape, Type, opset13 as ops

    ids = [p for p in model.get_parameters() if "input_ids" in p.output(0).get_names()]
    body = model.clone()
    gather, body_gather = _table_gather(model), _table_gather(body)
    if not ids or gather is None or body_gather is None:
        return None
    table = Model([ops.result(gather.output(0))], [ids[0]], "token_embeddings")
    hidden = body_gather.get_output_partial_shape(0)[-1]
    embeds = ops.parameter(PartialShape([-1, -1, hidden]), Type.f32, name=EMBEDS_INPUT)
    embeds.output(0).get_tensor().set_names({EMBEDS_INPUT})
    for target in list(body_gather.output(0).get_target_inputs()):
        target.replace_source_output(embeds.output(0))
    rest = Model(body.get_results(), [*body.get_parameters(), embeds], "body")
    return table.clone(), rest


def decoder_items(  # noqa: PLR0917
    encoder: Any,
    decoder: Any,
    encoder_items: Sequence[Mapping[str, Any]],
    label_ids: Sequence[Sequence[int]],
    start_token: int,
    pad_token: int,
) -> list[dict[str, Any]]:
    """Decoder calls as the runtime makes them: every label teacher-forced against one prompt."""
    import openvino as ov

    compiled = ov.Core().compile_model(encoder, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    width = max(len(ids) for ids in label_ids)
    target = np.array(
        [list(ids) + [pad_token] * (width - len(ids)) for ids in label_ids], dtype=np.int64
    )
    shifted = np.concatenate(
        [np.full((len(target), 1), start_token, dtype=np.int64), target[:, :-1]], axis=1
    )
    items: list[dict[str, Any]] = []
    for item in _fit(encoder, encoder_items):
        states = np.asarray(compiled(item)[0], dtype=np.float32)
        rows = len(target)
        items.append(
            {
                "input_ids": shifted,
                "decoder_input_ids": shifted,
                "encoder_hidden_states": np.repeat(states, rows, axis=0),
                "encoder_attention_mask": np.repeat(item["attention_mask"], rows, axis=0),
            }
        )
    return [{k: v for k, v in item.items() if k in _declared(decoder)} for item in items]


def calibration_for(
    role: str,
    models: Mapping[str, Any],
    tokenizer: Any,
    max_length: int,
    params: Mapping[str, Any],
) -> dict[str, list[dict[str, Any]]]:
    """Calibration items per IR name of ``role``."""
    if role == "embed":
        return {"openvino_model": calibration.embed_items(tokenizer, max_length)}
    if role == "rerank":
        return {"openvino_model": calibration.rerank_items(tokenizer, max_length)}
    from .names import DEFAULT_CATEGORIES, DEFAULT_PRIORITIES
    from .runners import CATEGORY_PROMPT, PRIORITY_PROMPT

    prompts = calibration.classify_prompts(
        DEFAULT_CATEGORIES, DEFAULT_PRIORITIES, (CATEGORY_PROMPT, PRIORITY_PROMPT)
    )
    enc = calibration.encoder_items(tokenizer, prompts, max_length)
    out: dict[str, list[dict[str, Any]]] = {"openvino_encoder_model": enc}
    if f"{role}/openvino_decoder_model" in STATIC_IRS:
        labels = [
            list(tokenizer(label)["input_ids"])
            for label in (*DEFAULT_CATEGORIES, *DEFAULT_PRIORITIES)
        ]
        out["openvino_decoder_model"] = decoder_items(
            models["openvino_encoder_model"],
            models["openvino_decoder_model"],
            enc[:16],
            labels,
            int(params.get("decoder_start_token_id", 0)),
            int(params.get("pad_token_id", 0)),
        )
    return out
