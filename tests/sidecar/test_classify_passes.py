"""How many model passes classification costs: per batch of patterns, never per label.

The design (models/runners.py, ClassifyRunner.classify): patterns go CLASSIFY_BATCH at a time;
each pattern asks two questions (category, priority), so a batch is one encoder call on
2 x patterns prompt rows, then one decoder call that teacher-forces every label of both
questions for every pattern (patterns x labels rows). Label lists are tokenized once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import math
from typing import Any

import openvino as ov
import pytest

from homeiq_sidecar.models.results import ClassifyResult
from homeiq_sidecar.models.runners import CLASSIFY_BATCH, TARGET_INPUT, ClassifyRunner
from homeiq_sidecar.models.store import read_manifest
from tests.export.tiny_models import cached_entry, ensure_tiny_models

PATTERNS = [
    "light.kitchen turns on around 06:45 on weekdays.",
    "lock.front_door becomes locked around 22:30 every day.",
    "switch.dryer turns on about 5 min after switch.washer turns off.",
]
CATEGORIES = ["energy", "comfort", "security", "convenience", "maintenance"]
PRIORITIES = ["high", "medium", "low"]


class Counted:
    """A compiled model (or tokenizer) that records the row count of every call, unchanged."""

    def __init__(self, model: Any, rows_of: str | None = None) -> None:
        self._model = model
        self._rows_of = rows_of
        self.rows: list[int] = []

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        first = inputs[self._rows_of] if self._rows_of else inputs[0]
        self.rows.append(len(first))
        return self._model(inputs, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # inputs, outputs ...: the real model's
        return getattr(self._model, name)


@pytest.fixture(scope="module")
def runner() -> ClassifyRunner:
    entry = cached_entry(ensure_tiny_models() / "cache", "classify")
    manifest = read_manifest(entry)
    assert manifest is not None
    return ClassifyRunner(ov.Core(), entry, {}, manifest["params"])


@contextmanager
def counted(runner: ClassifyRunner) -> Iterator[tuple[Counted, Counted, Counted]]:
    """The runner's encoder, decoder and tokenizer, counted while the block runs."""
    real = runner.encoder, runner.decoder, runner.tokenizer
    wrappers = Counted(real[0], "input_ids"), Counted(real[1], TARGET_INPUT), Counted(real[2])
    runner.encoder, runner.decoder, runner.tokenizer = wrappers  # type: ignore[assignment]
    try:
        yield wrappers
    finally:
        runner.encoder, runner.decoder, runner.tokenizer = real


def check_result(result: ClassifyResult) -> None:
    """Label, confidence and a score for every label, for both questions."""
    for label, confidence, scores, labels in (
        (result.category, result.category_confidence, result.category_scores, CATEGORIES),
        (result.priority, result.priority_confidence, result.priority_scores, PRIORITIES),
    ):
        assert list(scores) == labels
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert label == max(scores, key=scores.__getitem__)
        assert confidence == scores[label]


def test_one_encoder_and_one_decoder_pass_per_batch(runner: ClassifyRunner) -> None:
    assert len(PATTERNS) <= CLASSIFY_BATCH  # three patterns make one batch
    plain = runner.classify(PATTERNS, CATEGORIES, PRIORITIES)  # also tokenizes the label lists
    with counted(runner) as (encoder, decoder, tokenizer):
        results = runner.classify(PATTERNS, CATEGORIES, PRIORITIES)

    # One encoder pass: both questions of every pattern, not a row per label.
    assert encoder.rows == [2 * len(PATTERNS)]
    # One decoder pass: every label of both questions for every pattern.
    assert decoder.rows == [len(PATTERNS) * (len(CATEGORIES) + len(PRIORITIES))]
    # The prompts only: the label lists were tokenized by the first call and kept.
    assert tokenizer.rows == [2 * len(PATTERNS)]

    # Counting changed nothing.
    assert results == plain
    assert len(results) == len(PATTERNS)
    for result in results:
        check_result(result)


@pytest.mark.parametrize(("categories", "priorities"), [(2, 2), (5, 3), (12, 6)])
def test_passes_do_not_depend_on_the_number_of_labels(
    runner: ClassifyRunner, categories: int, priorities: int
) -> None:
    cats = [f"category {i}" for i in range(categories)]
    pris = [f"priority {i}" for i in range(priorities)]
    with counted(runner) as (encoder, decoder, tokenizer):
        results = runner.classify(PATTERNS, cats, pris)
    assert len(encoder.rows) == 1
    assert len(decoder.rows) == 1
    assert decoder.rows == [len(PATTERNS) * (categories + priorities)]
    # New label lists: each tokenized once (before the prompts), whatever its length.
    assert tokenizer.rows == [categories, priorities, 2 * len(PATTERNS)]
    assert all(list(r.category_scores) == cats for r in results)
    assert all(list(r.priority_scores) == pris for r in results)


def test_more_patterns_than_a_batch(runner: ClassifyRunner) -> None:
    texts = [f"{PATTERNS[i % len(PATTERNS)]} ({i})" for i in range(CLASSIFY_BATCH + 3)]
    batches = math.ceil(len(texts) / CLASSIFY_BATCH)
    with counted(runner) as (encoder, decoder, _):
        results = runner.classify(texts, CATEGORIES, PRIORITIES)
    sizes = [
        min(CLASSIFY_BATCH, len(texts) - start) for start in range(0, len(texts), CLASSIFY_BATCH)
    ]
    assert len(sizes) == batches == 2
    assert encoder.rows == [2 * n for n in sizes]
    assert decoder.rows == [n * (len(CATEGORIES) + len(PRIORITIES)) for n in sizes]
    assert len(results) == len(texts)
    for result in results:
        check_result(result)
