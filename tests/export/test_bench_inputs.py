"""`scripts/bench models` builds its texts in the export venv it runs in.

Its inputs are what the miner writes for synthetic homes, mined in the export venv: a miner
dependency missing there (astral, once) broke the benchmark and no other test noticed. The
mined texts name entities as the integration does (HA's `State.name`); the reranker's figure
depends on it (raw ids take ~1.5x the tokens), so the test holds the bench to it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
import re

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_texts_build_in_the_export_venv() -> None:
    spec = importlib.util.spec_from_file_location(
        "bench_models", ROOT / "scripts" / "bench_models.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    texts = bench.descriptions(6)
    assert len(texts) == 6
    assert len(set(texts)) == 6  # mined habits and plain sentences, each its own
    mined = texts[0::2]  # every other text is what the miner wrote for a synthetic home
    assert all(" turns " in t or " is " in t or " becomes " in t for t in mined), mined
    entity_id = re.compile(r"\b[a-z_]+\.[a-z0-9_]+\b")
    assert not any(entity_id.search(t) for t in texts), texts
    raw = bench.descriptions(6, named=False)[0::2]
    assert all(entity_id.search(t) for t in raw), raw
