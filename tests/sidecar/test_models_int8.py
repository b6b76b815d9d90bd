"""INT8 for real: the saved IR stores the weights of its MatMuls as 8-bit integers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest

from homeiq_sidecar.models import quantize
from homeiq_sidecar.models.convert import convert
from homeiq_sidecar.models.irinfo import (
    activation_quantizers,
    ir_is_int8,
    matmul_weight_types,
    table_weight_types,
)
from homeiq_sidecar.models.store import read_manifest
from tests.export.tiny_models import cached_entry, ensure_tiny_models


@pytest.fixture(scope="session")
def built() -> Path:
    return ensure_tiny_models()


@pytest.mark.parametrize("role", ["embed", "rerank", "classify"])
def test_tiny_entries_have_8bit_matmul_weights(built: Path, role: str) -> None:
    entry = cached_entry(built / "cache", role)
    manifest = read_manifest(entry, verify_hashes=True)
    assert manifest is not None
    assert manifest["route"] == "optimum-intel"
    assert_8bit_weights(entry, manifest)


def assert_8bit_weights(entry: Path, manifest: dict[str, Any]) -> None:
    """Every linear layer (and split-off token table) of the entry's model IRs stores 8 bits."""
    assert manifest["precision"] == "int8"
    model_files = [
        name for name in manifest["files"] if name.endswith(".xml") and "tokenizer" not in name
    ]
    assert model_files
    for name in model_files:
        model = ov.Core().read_model(str(entry / name))
        if name.endswith("_embeddings.xml"):  # the static route's split-off token table
            tables = table_weight_types(model, min_rows=100)  # the tiny vocabulary has 320
            assert len(tables) == 1, tables
            assert set(tables.values()) <= {"u8", "i8"}, tables
            continue
        types = matmul_weight_types(model)
        # Every linear layer of the architecture, not just one: 2 layers x (q, k, v, out, ffn x2).
        assert len(types) >= 12, types
        assert set(types.values()) <= {"u8", "i8"}, types


# Static INT8 where it pays (quantize.STATIC_IRS), weight-only elsewhere; the manifest says which.
EXPECTED_QUANTIZATION = {
    "embed": {"openvino_model": "static-int8"},
    "rerank": {"openvino_model": "static-int8"},
    "classify": {
        "openvino_encoder_model": "weights-int8",
        "openvino_decoder_model": "weights-int8",
    },
}


@pytest.mark.parametrize("role", ["embed", "rerank", "classify"])
def test_static_entries_quantize_activations(built: Path, role: str) -> None:
    entry = cached_entry(built / "cache", role)
    manifest = read_manifest(entry)
    assert manifest is not None
    assert_quantization(entry, manifest, role)


def assert_quantization(entry: Path, manifest: dict[str, Any], role: str) -> None:
    """The entry used EXPECTED_QUANTIZATION's method per IR, and its IRs show it."""
    assert manifest["quantization_files"] == EXPECTED_QUANTIZATION[role]
    overall = set(EXPECTED_QUANTIZATION[role].values())
    assert manifest["quantization"] == (overall.pop() if len(overall) == 1 else "weights-int8")
    for ir_name, method in manifest["quantization_files"].items():
        quantizers = activation_quantizers(ov.Core().read_model(str(entry / f"{ir_name}.xml")))
        split = entry / f"{ir_name}_embeddings.xml"
        if method == "static-int8":
            # Inputs of every linear layer: 2 layers x (q/k/v shared, out, ffn x2) at least.
            assert quantizers >= 8, (ir_name, quantizers)
            # The token table lives in its own weight-only IR (no activation quantizers), so the
            # CPU plugin cannot unpack it to f32 while compiling the quantized body.
            assert activation_quantizers(ov.Core().read_model(str(split))) == 0
            body = ov.Core().read_model(str(entry / f"{ir_name}.xml"))
            assert not table_weight_types(body, min_rows=300)  # vocabulary 320, positions 130
        else:
            assert quantizers == 0, (ir_name, quantizers)
            assert not split.exists()


def test_real_minilm_entry_is_int8_and_small(built: Path) -> None:
    entry = cached_entry(built / "minilm" / "cache", "embed")
    manifest = read_manifest(entry)
    assert manifest is not None
    # Static, with the FFN down-projections that quantize.STATIC_IRS keeps out of activation
    # quantization: those still store 8-bit weights (weight-only), so every MatMul is 8-bit.
    assert manifest["quantization_files"] == {"openvino_model": "static-int8"}
    assert ir_is_int8(entry / "openvino_model.xml")
    body = ov.Core().read_model(str(entry / "openvino_model.xml"))
    assert activation_quantizers(body) >= 30  # 6 layers x 6 linear layers, less the kept two
    # FP32 MiniLM weights are ~90 MB; 8-bit ones about a quarter of that.
    assert (entry / "openvino_model.bin").stat().st_size < 30_000_000


def test_checker_sees_float_weights(built: Path, tmp_path: Path) -> None:
    """The check can fail: the same model saved without compression is reported as f32."""
    model = ov.convert_model(str(built / "hf" / "embed" / "onnx" / "model.onnx"))
    ov.save_model(model, str(tmp_path / "fp32.xml"), compress_to_fp16=False)
    types = matmul_weight_types(ov.Core().read_model(str(tmp_path / "fp32.xml")))
    assert types
    assert set(types.values()) == {"f32"}
    assert not ir_is_int8(tmp_path / "fp32.xml")


def test_static_int8_that_loses_accuracy_stays_weight_only(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversion-time check can fail: an unreachable bar sends embed to weight-only."""
    monkeypatch.setitem(
        quantize.STATIC_IRS, "embed/openvino_model", quantize.StaticPlan(min_cosine=1.01)
    )
    # The torch-free route (this venv has no torch): the checkpoint's ONNX file.
    manifest = convert("embed", str(built / "hf" / "embed"), tmp_path / "entry", precision="int8")
    assert manifest["route"] == "onnx"
    assert manifest["quantization_files"] == {"openvino_model": "weights-int8"}
    model = ov.Core().read_model(str(tmp_path / "entry" / "openvino_model.xml"))
    assert activation_quantizers(model) == 0
    assert ir_is_int8(tmp_path / "entry" / "openvino_model.xml")


# Every static IR is checked against the float model at conversion; the manifest keeps the
# figure. IR -> (figure, its bar in quantize.STATIC_IRS).
EXPECTED_CHECKS = {
    "embed": {"openvino_model": ("pooled_cosine", 0.99)},
    "rerank": {"openvino_model": ("rank_agreement", quantize.RANK_AGREEMENT_BAR)},
}


@pytest.mark.parametrize("role", ["embed", "rerank", "classify"])
def test_static_entries_record_their_accuracy(built: Path, role: str) -> None:
    manifest = read_manifest(cached_entry(built / "cache", role))
    assert manifest is not None
    expected = EXPECTED_CHECKS.get(role, {})
    assert set(manifest["quantization_checks"]) == set(expected)
    for ir_name, (figure, bar) in expected.items():
        assert list(manifest["quantization_checks"][ir_name]) == [figure]
        assert bar <= manifest["quantization_checks"][ir_name][figure] <= 1.0


def test_rerank_that_loses_its_order_stays_weight_only(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rerank bar can fail: above any reachable agreement, the IR stays weight-only and the
    manifest keeps the figure that sent it there."""
    monkeypatch.setitem(
        quantize.STATIC_IRS, "rerank/openvino_model", quantize.StaticPlan(min_rank_agreement=1.01)
    )
    manifest = convert("rerank", str(built / "hf" / "rerank"), tmp_path / "entry", precision="int8")
    assert manifest["quantization_files"] == {"openvino_model": "weights-int8"}
    agreement = manifest["quantization_checks"]["openvino_model"]["rank_agreement"]
    assert 0.5 < agreement < 1.01
    model = ov.Core().read_model(str(tmp_path / "entry" / "openvino_model.xml"))
    assert activation_quantizers(model) == 0
    assert ir_is_int8(tmp_path / "entry" / "openvino_model.xml")


def _scaled(factor: float) -> ov.Model:
    """logit = factor * x: a stand-in model whose order the test controls."""
    from openvino import opset13 as ops

    x = ops.parameter([1, 1], ov.Type.f32, name="x")
    return ov.Model([ops.multiply(x, np.float32(factor)).output(0)], [x])


def test_rank_agreement_measures_order() -> None:
    items = [{"x": np.array([[value]], np.float32)} for value in (0.3, -1.0, 2.5, 0.9, -0.2)]
    assert quantize.rank_agreement(_scaled(1.0), _scaled(3.0), items) == pytest.approx(1.0)
    assert quantize.rank_agreement(_scaled(1.0), _scaled(-1.0), items) == pytest.approx(-1.0)
    # Nothing to order (one input, or all logits equal): no agreement shown.
    assert quantize.rank_agreement(_scaled(1.0), _scaled(1.0), items[:1]) == 0.0
    assert quantize.rank_agreement(_scaled(0.0), _scaled(1.0), items) == 0.0
