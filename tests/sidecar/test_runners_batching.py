"""How runners cut texts into batches: few shapes, little padding, every row kept."""

from __future__ import annotations

import numpy as np

from homeiq_sidecar.models.runners import _plan, _rows, _shaped, _trimmed


def test_plan_sorts_by_tokens_in_full_batches() -> None:
    lengths = [30, 7, 17, 9, 24, 25, 8, 16] * 20
    batches = _plan(lengths, cap=16)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [len(batch) for batch in batches] == [16] * 10
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat)
    assert [len(batch) for batch in _plan([5] * 20, cap=16)] == [16, 4]


def test_rows_are_powers_of_two_then_multiples_of_eight() -> None:
    assert [_rows(n, 64) for n in (1, 2, 3, 5, 8, 9, 17, 40, 63, 64)] == [
        1, 2, 4, 8, 8, 16, 24, 40, 64, 64,
    ]  # fmt: skip
    assert _rows(6, 6) == 6  # capped (classify pads to its own prompt count)
    assert len({_rows(n, 64) for n in range(1, 65)}) == 11  # few shapes for the CPU plugin


def test_trim_and_shape_keep_real_tokens_and_add_masked_padding() -> None:
    ids = np.array([[5, 6, 0, 0, 0], [7, 0, 0, 0, 0], [8, 9, 4, 0, 0]])
    mask = (ids != 0).astype(np.int64)
    trimmed_ids, trimmed_mask = _trimmed(ids[:2], mask[:2])
    assert trimmed_ids.tolist() == [[5, 6], [7, 0]]
    shaped_ids, shaped_mask = _shaped(trimmed_ids, trimmed_mask, pad_id=0, rows_cap=64)
    assert shaped_ids.shape == (2, 8)
    assert shaped_mask.sum() == trimmed_mask.sum()
    empty_ids, _ = _trimmed(np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64))
    assert empty_ids.shape == (2, 1)
