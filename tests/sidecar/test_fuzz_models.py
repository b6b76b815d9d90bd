"""Faults in the model runners that the API fuzzing found (the runners belong to models/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from homeiq_sidecar.models import ModelManager
from tests.sidecar.server_fixtures import tiny_model_sources


@pytest.mark.xfail(
    strict=True,
    raises=RuntimeError,
    reason="runners: a (query, document) pair of NULs tokenizes to an empty pair and the CPU "
    "plugin fails on its Broadcast; the API refuses NUL since, the runner should too "
    "(replace NUL before tokenizing, or keep at least the special tokens)",
)
async def test_rerank_pair_of_nuls(tmp_path: Path) -> None:
    manager = ModelManager(
        cache_dir=tmp_path, models=tiny_model_sources(), allow_convert=False, idle_unload_s=None
    )
    try:
        [score] = await manager.rerank("\x00", ["\x00"])
        assert 0.0 <= float(score) <= 1.0
    finally:
        await manager.close()
