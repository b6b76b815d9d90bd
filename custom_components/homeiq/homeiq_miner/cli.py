"""`python -m homeiq_miner.cli SOURCE [--time-zone TZ] [--days N] [--json OUT]`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
import json
from pathlib import Path
import sqlite3
import sys
from typing import Any

from .errors import InputError
from .miner import mine
from .model import Event, Location, MinerConfig
from .readers import (
    load_zone,
    read_automation_context_ids,
    read_csv,
    read_recorder_db,
    read_restarts,
)

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == _SQLITE_MAGIC
    except OSError as err:
        raise InputError(f"Cannot open {path}: {err.strerror or err}.") from err


def _table(patterns: list[dict[str, Any]]) -> str:
    rows = [("type", "description", "occ", "conf", "automated")]
    rows += [
        (
            p["type"],
            p["description"],
            str(p["occurrences"]),
            f"{p['confidence']:.2f}",
            "yes" if p["automated"] else "no",
        )
        for p in patterns
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    widths[1] = min(widths[1], 110)
    lines = []
    for r in rows:
        desc = r[1] if len(r[1]) <= widths[1] else r[1][: widths[1] - 1] + "…"
        lines.append(
            f"{r[0]:<{widths[0]}}  {desc:<{widths[1]}}  {r[2]:>{widths[2]}}  "
            f"{r[3]:>{widths[3]}}  {r[4]}"
        )
    return "\n".join(lines)


def _check_args(args: argparse.Namespace) -> None:
    load_zone(args.time_zone)
    if args.days is not None and not 0 < args.days < 36_500:  # also refuses nan
        raise InputError("--days must be a positive number of days.")
    if not args.source.exists():
        raise InputError(f"Cannot open {args.source}: no such file.")
    if (args.latitude is None) != (args.longitude is None):
        raise InputError("--latitude and --longitude go together.")
    for name, value, limit in (("latitude", args.latitude, 90), ("longitude", args.longitude, 180)):
        if value is not None and not -limit <= value <= limit:  # also refuses nan
            raise InputError(f"--{name} must be between -{limit} and {limit} degrees.")


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="analyze", description="Find a home's habits in a CSV export or a recorder DB."
    )
    parser.add_argument("source", type=Path, help="CSV file or home-assistant_v2.db")
    parser.add_argument("--time-zone", default="UTC", help="the home's IANA time zone")
    parser.add_argument("--days", type=float, default=None, help="look back N days")
    parser.add_argument("--json", type=Path, default=None, help="write {'patterns': [...]}")
    parser.add_argument("--latitude", type=float, default=None, help="the home's, for sun habits")
    parser.add_argument("--longitude", type=float, default=None, help="the home's")
    args = parser.parse_args(argv)
    try:
        _check_args(args)
        events: Iterator[Event]
        auto: set[str] = set()
        restarts = None
        config = MinerConfig()
        if _is_sqlite(args.source):
            auto = read_automation_context_ids(args.source, days=args.days)
            restarts = read_restarts(args.source, days=args.days)
            events = read_recorder_db(args.source, days=args.days)
        else:
            events = read_csv(args.source, time_zone=args.time_zone)
            config = MinerConfig(lookback_days=args.days)
        result = mine(
            events,
            time_zone=args.time_zone,
            config=config,
            automation_context_ids=auto,
            restarts=restarts,
            location=None if args.latitude is None else Location(args.latitude, args.longitude),
        )
        if args.json is not None:
            try:
                args.json.write_text(
                    json.dumps({"patterns": result.patterns, "stats": result.stats}, indent=2),
                    encoding="utf-8",
                )
            except OSError as err:
                raise InputError(f"Cannot write {args.json}: {err.strerror or err}.") from err
    except InputError as err:
        print(f"analyze: error: {err}", file=sys.stderr)
        return 2
    except sqlite3.Error as err:  # a DB that changes shape or locks mid-read
        print(f"analyze: error: {args.source}: {err}.", file=sys.stderr)
        return 2
    print(_table(result.patterns))
    stats = result.stats
    print(
        f"\n{stats['patterns']} patterns ({stats['automated_patterns']} automated, "
        f"{stats['suggestions']} suggestions) from {stats['events_used']} of "
        f"{stats['events_read']} events in {stats['duration_s']:.2f} s."
    )
    return 0


def main() -> None:
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:  # `analyze ... | head` closed the pipe: not an error
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
