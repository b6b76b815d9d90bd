"""Inspect a saved IR: which element type the weights feeding each MatMul are stored in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Nodes that sit between a stored weight and the MatMul in a decompression subgraph
# (Convert -> Subtract zero point -> Multiply scale -> Reshape) or a plain FP16 Convert.
_PASS_THROUGH = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose", "Unsqueeze"}


def _weight_constant_types(node: Any, depth: int = 0) -> list[str]:
    """Element types of the largest Constants upstream of ``node`` through decompression ops."""
    kind = node.get_type_name()
    if kind == "Constant":
        return [node.get_element_type().get_type_name()] if _size(node) > 1 else []
    if kind not in _PASS_THROUGH or depth > 6:
        return []
    found: list[str] = []
    # Reshape/Transpose/Unsqueeze: only the data input; the other is a shape, not a weight.
    ports = node.inputs() if kind in ("Convert", "Subtract", "Multiply") else node.inputs()[:1]
    for port in ports:
        found += _weight_constant_types(port.get_source_output().get_node(), depth + 1)
    return found


def _size(node: Any) -> int:
    count = 1
    for dim in node.get_output_shape(0):
        count *= int(dim)
    return count


def matmul_weight_types(model: Any) -> dict[str, str]:
    """Map each MatMul that has a constant weight to that weight's stored element type.

    MatMuls whose inputs are both activations (attention scores) are left out.
    """
    result: dict[str, str] = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() != "MatMul":
            continue
        for port in op.inputs():
            types = _weight_constant_types(port.get_source_output().get_node())
            if types:
                # The widest type decides: scales are f16/f32 but tiny; we skip 1-element
                # constants, and among the rest the quantised tensor is the biggest.
                result[op.get_friendly_name()] = _stored_type(types)
    return result


def table_weight_types(model: Any, *, min_rows: int = 1000) -> dict[str, str]:
    """Map each Gather that reads a vocabulary-sized constant table to its stored type.

    Position and relative-bias tables (hundreds of rows) are left out: they are not where the
    size is, and the static route leaves them in float.
    """
    result: dict[str, str] = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Gather":
            continue
        source = op.input(0).get_source_output()
        if len(source.get_partial_shape()) != 2 or not source.get_partial_shape().is_static:
            continue
        if source.get_partial_shape()[0].get_length() < min_rows:
            continue
        types = _weight_constant_types(source.get_node())
        if types:
            result[op.get_friendly_name()] = _stored_type(types)
    return result


def _stored_type(types: list[str]) -> str:
    eight_bit = [t for t in types if t in ("u8", "i8")]
    return eight_bit[0] if eight_bit else types[0]


def ir_is_int8(xml_path: Path) -> bool:
    """True when every weight-bearing MatMul and vocabulary table in the IR is stored as u8/i8."""
    import openvino as ov

    model = ov.Core().read_model(str(xml_path))
    types = {**matmul_weight_types(model), **table_weight_types(model)}
    return bool(types) and all(t in ("u8", "i8") for t in types.values())


def activation_quantizers(model: Any) -> int:
    """How many FakeQuantize ops quantize activations (their data input is not a Constant).

    Static INT8 leaves one before each quantized MatMul input; weight-only INT8 leaves none.
    """
    count = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "FakeQuantize":
            continue
        source = op.input(0).get_source_output().get_node()
        if source.get_type_name() != "Constant":
            count += 1
    return count
