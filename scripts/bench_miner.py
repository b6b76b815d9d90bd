"""Miner benchmark: read CSV + detect + suggest for 100k / 1M (/ 5M) synthetic state changes.

Each size runs in its own subprocess so peak RSS (ru_maxrss) is that run's alone. The baseline
column is the same process reading the same CSV with the csv module and parsing every
timestamp, nothing else: the floor any CSV-based miner pays.

    scripts/bench miner [--sizes 100000,1000000] [--with-5m] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
import json
import math
import os
from pathlib import Path
import resource
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "custom_components" / "homeiq"))

from homeiq_miner import mine  # noqa: E402
from homeiq_miner.readers import read_csv  # noqa: E402
from homeiq_miner.synth import make_home  # noqa: E402

# One large home (16 rooms, ~17k state changes a day); a bigger input is a longer history, so
# event density stays that of a real home and growth with n is what is measured.
ROOMS = 16
TZ = "Europe/Amsterdam"


def _days_for(size: int) -> int:
    per_day = sum(1 for _ in make_home(0, days=7, rooms=ROOMS).events()) / 7
    return max(1, math.ceil(size / per_day))


def write_csv(path: Path, size: int) -> int:
    home = make_home(size, days=_days_for(size), rooms=ROOMS, time_zone=TZ)
    n = 0
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["timestamp_iso", "entity_id", "state", "context_id", "context_parent_id"])
        for e in home.events():
            w.writerow(
                [
                    datetime.fromtimestamp(e.ts, UTC).isoformat(),
                    e.entity_id,
                    e.state,
                    e.context_id or "",
                    e.context_parent_id or "",
                ]
            )
            n += 1
    return n


def _worker(mode: str, path: str) -> None:
    started = time.perf_counter()
    out: dict[str, object] = {}
    if mode == "mine":
        result = mine(read_csv(path), time_zone=TZ)
        out = {
            "patterns": len(result.patterns),
            "suggestions": result.stats["suggestions"],
            "events": result.stats["events_read"],
        }
    else:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            parse = datetime.fromisoformat
            count = 0
            for row in reader:
                parse(row[0]).timestamp()
                count += 1
        out = {"events": count}
    out["wall_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _measure(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--with-5m", action="store_true", help="also 5,000,000 (slow to generate)")
    parser.add_argument("--keep", type=Path, default=None, help="keep generated CSVs here")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.with_5m:
        sizes.append(5_000_000)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-miner-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"cpu cores: {os.cpu_count()}  python: {sys.version.split()[0]}  rooms: {ROOMS}")
    print(
        "| events | mine wall s | peak RSS MB | csv-parse baseline s | mine / baseline | s per 1M | patterns |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        path = folder / f"home-{size}.csv"
        if not path.exists():
            write_csv(path, size)
        base = _measure("baseline", path)
        run = _measure("mine", path)
        events = int(run["events"])
        print(
            f"| {events:,} | {run['wall_s']:.2f} | {run['peak_rss_mb']:.0f} | {base['wall_s']:.2f} |"
            f" {run['wall_s'] / base['wall_s']:.2f} | {run['wall_s'] / events * 1e6:.2f} |"
            f" {int(run['patterns'])} |",
            flush=True,
        )
        if args.keep is None:
            path.unlink()


if __name__ == "__main__":
    main()
