"""Miner benchmark: read CSV + detect + suggest for 100k / 1M (/ 5M) synthetic state changes.

Each size runs in its own subprocess so peak RSS (VmHWM, see peak_rss.py) is that run's alone.
The baseline column is the same process reading the same CSV with the csv module and parsing every
timestamp, nothing else: the floor any CSV-based miner pays.

    scripts/bench miner [--sizes 100000,1000000] [--with-5m] [--keep DIR]
                        [--recorder] [--clock-sensor] [--location]

--recorder also mines the same homes from a recorder database (WAL SQLite, the `states` /
`states_meta` / `events` tables and columns HA's current schema has and the reader uses) through
`read_recorder_db`. --clock-sensor adds a sensor with a new state every minute (a clock or
timestamp sensor: one distinct state per event), the worst case for per-key tables.
--location also mines the CSV with the home's location (Amsterdam): the sun clocks' passes.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import csv
from datetime import UTC, datetime
import hashlib
import heapq
import itertools
import json
import math
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "custom_components" / "homeiq"), str(ROOT)]

from peak_rss import peak_rss_mb  # noqa: E402

from homeiq_miner import Event, Location, mine  # noqa: E402
from homeiq_miner.readers import (  # noqa: E402
    read_automation_context_ids,
    read_csv,
    read_recorder_db,
)
from homeiq_miner.synth import make_home  # noqa: E402
from homeiq_miner.ulid import bytes_to_ulid  # noqa: E402

# One large home (16 rooms, ~17k state changes a day); a bigger input is a longer history, so
# event density stays that of a real home and growth with n is what is measured.
ROOMS = 16
TZ = "Europe/Amsterdam"
LOCATION = Location(52.37, 4.89)


def _days_for(size: int) -> int:
    per_day = sum(1 for _ in make_home(0, days=7, rooms=ROOMS).events()) / 7
    return max(1, math.ceil(size / per_day))


def home_events(size: int, clock: bool) -> Iterator[Event]:
    days = _days_for(size)
    events = make_home(size, days=days, rooms=ROOMS, time_zone=TZ).events()
    if not clock:
        return iter(events)
    first = next(events)
    start = first.ts // 60 * 60 + 60
    ticks = (
        Event(t, "sensor.clock", datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M"))
        for t in range(int(start), int(start) + days * 86400, 60)
    )
    return heapq.merge(itertools.chain([first], events), ticks, key=lambda e: e.ts)


def write_csv(path: Path, events: Iterator[Event]) -> int:
    n = 0
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["timestamp_iso", "entity_id", "state", "context_id", "context_parent_id"])
        for e in events:
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


def write_db(path: Path, events: Iterator[Event]) -> int:
    from tests.miner.conftest import write_recorder_db

    def ulid(context: str | None) -> str | None:
        # The recorder stores context ids as 16-byte ULIDs; the synthetic ids are not ULIDs.
        return (
            None
            if context is None
            else bytes_to_ulid(hashlib.md5(context.encode(), usedforsecurity=False).digest())
        )

    rows = [
        (e.ts, e.entity_id, e.state, ulid(e.context_id), ulid(e.context_parent_id), False)
        for e in events
    ]
    write_recorder_db(path, rows)
    return len(rows)


def _worker(mode: str, path: str) -> None:
    started = time.perf_counter()
    out: dict[str, object] = {}
    if mode in ("mine", "mine-sun", "mine-db"):
        if mode == "mine":
            result = mine(read_csv(path), time_zone=TZ)
        elif mode == "mine-sun":
            result = mine(read_csv(path), time_zone=TZ, location=LOCATION)
        else:
            auto = read_automation_context_ids(path)
            result = mine(read_recorder_db(path), time_zone=TZ, automation_context_ids=auto)
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
    out["peak_rss_mb"] = peak_rss_mb()
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
    parser.add_argument("--recorder", action="store_true", help="also mine a recorder DB")
    parser.add_argument("--clock-sensor", action="store_true", help="add a new state a minute")
    parser.add_argument(
        "--location", action="store_true", help="also mine with the home's location (sun habits)"
    )
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
    clock = "-clock" if args.clock_sensor else ""
    print(f"cpu cores: {os.cpu_count()}  python: {sys.version.split()[0]}  rooms: {ROOMS}{clock}")
    print(
        "| source | events | mine wall s | peak RSS MB | csv-parse baseline s | mine / baseline"
        " | s per 1M | patterns |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        path = folder / f"home-{size}{clock}.csv"
        if not path.exists():
            write_csv(path, home_events(size, args.clock_sensor))
        base = _measure("baseline", path)
        runs = [("csv", _measure("mine", path))]
        if args.location:
            runs.append(("csv + location", _measure("mine-sun", path)))
        db = folder / f"home-{size}{clock}.db"
        if args.recorder:
            if not db.exists():
                write_db(db, home_events(size, args.clock_sensor))
            runs.append(("recorder db", _measure("mine-db", db)))
        for source, run in runs:
            events = int(run["events"])
            print(
                f"| {source} | {events:,} | {run['wall_s']:.2f} | {run['peak_rss_mb']:.0f} |"
                f" {base['wall_s']:.2f} | {run['wall_s'] / base['wall_s']:.2f} |"
                f" {run['wall_s'] / events * 1e6:.2f} | {int(run['patterns'])} |",
                flush=True,
            )
        if args.keep is None:
            path.unlink()
            for f in folder.glob(f"{db.name}*"):
                f.unlink()


if __name__ == "__main__":
    main()
