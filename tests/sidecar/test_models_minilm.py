"""The packaged real all-MiniLM-L6-v2, converted to INT8: same vectors, same meaning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from homeiq_sidecar.models import ModelManager
from tests.export.tiny_models import cached_entry, ensure_tiny_models


@pytest.fixture(scope="module")
def minilm() -> Path:
    return ensure_tiny_models() / "minilm"


async def test_int8_matches_float32_reference(minilm: Path, tmp_path: Path) -> None:
    sentences = json.loads((minilm / "sentences.json").read_text())["sentences"]
    reference = np.load(minilm / "reference.npy")
    manager = ModelManager(
        cache_dir=tmp_path,
        models={"embed": str(cached_entry(minilm / "cache", "embed"))},
        allow_convert=False,
    )
    vectors = await manager.embed(sentences)
    await manager.close()
    assert vectors.shape == reference.shape == (len(sentences), 384)
    cosine = np.sum(vectors * reference, axis=1)
    assert np.min(cosine) >= 0.99, cosine


async def test_a_habit_ranks_its_near_duplicate_first(minilm: Path, tmp_path: Path) -> None:
    manager = ModelManager(
        cache_dir=tmp_path,
        models={"embed": str(cached_entry(minilm / "cache", "embed"))},
        allow_convert=False,
    )
    habits = {
        "The bedroom lamp turns off at 23:30 on weeknights.": (
            "Around half past eleven on weekdays the bedroom light is switched off."
        ),
        "The front door is locked every evening at 22:00.": (
            "Every night at ten the front door gets locked."
        ),
        "The dishwasher starts right after the kitchen lights go off.": (
            "When the kitchen lights switch off, the dishwasher is started."
        ),
    }
    unrelated = [
        "The garden sprinkler runs at dawn in summer.",
        "The thermostat is set to 21 degrees when someone comes home.",
        "The garage door opens when the car arrives.",
    ]
    candidates = list(habits.values()) + unrelated
    cand = await manager.embed(candidates)
    for habit, duplicate in habits.items():
        query = (await manager.embed([habit]))[0]
        similarity = cand @ query
        assert candidates[int(np.argmax(similarity))] == duplicate, similarity
    await manager.close()
