"""Faults in the model runners that the API fuzzing found (fixed in models/runners.py)."""

from __future__ import annotations

from pathlib import Path

from homeiq_sidecar.models import ModelManager
from tests.sidecar.server_fixtures import tiny_model_sources


async def test_rerank_pair_of_nuls(tmp_path: Path) -> None:
    """A (query, document) pair of NULs once tokenized to an empty pair and failed the CPU
    plugin's Broadcast (a 500); the API refuses NUL too, but the runner must not fail on it."""
    manager = ModelManager(
        cache_dir=tmp_path, models=tiny_model_sources(), allow_convert=False, idle_unload_s=None
    )
    try:
        scores = await manager.rerank("\x00", ["\x00", "a\x00b"])
        assert len(scores) == 2
        assert all(0.0 <= float(s) <= 1.0 for s in scores)
        vectors = await manager.embed(["\x00"])
        assert vectors.shape[0] == 1
    finally:
        await manager.close()
