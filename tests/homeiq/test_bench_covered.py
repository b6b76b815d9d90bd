"""`scripts/bench covered` runs and finds what it is built to find (so the benchmark cannot
rot unseen): a small home, every fourth suggestion covered."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

REPO = Path(__file__).resolve().parents[2]


def test_covered_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "covered.json"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_covered.py"), "--automations", "40",
         "--patterns", "16", "--repeat", "1", "--json", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["automations"] == 40
    assert result["covered"] == 4  # p0, p4, p8, p12: the light their automation turns off
    assert result["ha_reload_ms"] > 0
    assert result["covering_ms"] > 0
