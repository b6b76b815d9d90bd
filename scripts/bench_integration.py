"""Benchmark: Home Assistant's event loop and memory while HomeIQ reads and sends 1M rows.

Builds a recorder database with the recorder's own schema, fills it with `--rows` state
changes (default 1,000,000) over 30 days, starts a real sidecar, then runs HomeIQ's analysis
inside a Home Assistant core (real recorder, real integration code) while a probe task
measures the event loop's longest stall and the process's resident memory. An idle period in
the same run is the baseline.

    scripts/bench integration [--rows N] [--entities N] [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass
from functools import partial
import json
import os
from pathlib import Path
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "custom_components" / "homeiq")]

# Imported after sys.path: the bench runs from the ha-2025 venv without pytest.
from homeassistant import loader  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.helpers import recorder as recorder_helper  # noqa: E402
from homeassistant.helpers.recorder import get_instance  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.recorder.common import (  # noqa: E402
    async_wait_recording_done,
)

from custom_components.homeiq.const import (  # noqa: E402
    CONF_MODE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    MODE_EXTERNAL,
)
from custom_components.homeiq.history import (  # noqa: E402
    async_build_selection,
    write_analyze_body,
)

TOKEN = "bench-token-0123456789"  # noqa: S105 - a throwaway local token
DOMAINS = ("light", "switch", "binary_sensor", "cover", "media_player", "lock", "fan", "climate")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process now."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


@dataclass
class Probe:
    """Longest event-loop stall and highest RSS over a period."""

    seconds: float = 0.0
    max_stall_ms: float = 0.0
    p99_stall_ms: float = 0.0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0

    @property
    def extra_mb(self) -> float:
        """Peak RSS above the start of the period."""
        return self.rss_peak_mb - self.rss_start_mb


async def probe_while(work: Any, interval: float = 0.005) -> tuple[Probe, Any]:
    """Run `work` (an awaitable) while sampling loop lag and RSS every `interval` s."""
    loop = asyncio.get_running_loop()
    result = Probe(rss_start_mb=rss_bytes() / 2**20)
    result.rss_peak_mb = result.rss_start_mb
    stalls: list[float] = []
    done = asyncio.Event()

    async def sampler() -> None:
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(interval)
            stalls.append(max(0.0, loop.time() - before - interval))
            result.rss_peak_mb = max(result.rss_peak_mb, rss_bytes() / 2**20)

    task = asyncio.create_task(sampler())
    started = time.monotonic()
    try:
        value = await work
    finally:
        done.set()
        await task
    result.seconds = time.monotonic() - started
    stalls.sort()
    result.max_stall_ms = stalls[-1] * 1000 if stalls else 0.0
    result.p99_stall_ms = stalls[int(len(stalls) * 0.99)] * 1000 if stalls else 0.0
    return result, value


def fill_database(db: Path, rows: int, entities: int, days: int = 30) -> float:
    """Bulk-insert state changes (and automation events) in the recorder schema; returns s."""
    started = time.monotonic()
    rng = random.Random(5)
    conn = sqlite3.connect(db)
    names = [f"{DOMAINS[i % len(DOMAINS)]}.bench_{i}" for i in range(entities)]
    conn.executemany("INSERT INTO states_meta (entity_id) VALUES (?)", [(n,) for n in names])
    meta = dict(conn.execute("SELECT entity_id, metadata_id FROM states_meta"))
    ids = [meta[n] for n in names]
    end = time.time()
    start = end - days * 86400
    step = (end - start) / rows
    batch: list[tuple[Any, ...]] = []
    for i in range(rows):
        ts = start + i * step
        metadata_id = ids[rng.randrange(entities)]
        # One change in ten comes from an automation (has a parent context).
        parent = os.urandom(16) if i % 10 == 0 else None
        batch.append((metadata_id, "on" if i % 2 else "off", ts, ts, os.urandom(16), parent))
        if len(batch) == 50_000:
            conn.executemany(
                "INSERT INTO states (metadata_id, state, last_updated_ts, last_reported_ts,"
                " context_id_bin, context_parent_id_bin) VALUES (?, ?, ?, ?, ?, ?)",
                batch,
            )
            batch.clear()
    if batch:
        conn.executemany(
            "INSERT INTO states (metadata_id, state, last_updated_ts, last_reported_ts,"
            " context_id_bin, context_parent_id_bin) VALUES (?, ?, ?, ?, ?, ?)",
            batch,
        )
    conn.execute("INSERT INTO event_types (event_type) VALUES ('automation_triggered')")
    (type_id,) = conn.execute(
        "SELECT event_type_id FROM event_types WHERE event_type = 'automation_triggered'"
    ).fetchone()
    conn.executemany(
        "INSERT INTO events (event_type_id, time_fired_ts, context_id_bin, origin_idx)"
        " VALUES (?, ?, ?, 0)",
        [(type_id, start + i * 86400 / 50, os.urandom(16)) for i in range(days * 50)],
    )
    conn.commit()
    conn.close()
    return time.monotonic() - started


def start_sidecar(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real sidecar on loopback, from this interpreter."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "custom_components" / "homeiq"),
        "HOMEIQ_SIDECAR_TOKEN": TOKEN,
    }
    log = (data_dir / "sidecar.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "homeiq_sidecar", "--host", "127.0.0.1", "--port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=log, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    message = json.loads(line)
    return process, f"http://127.0.0.1:{message['port']}"


async def setup_recorder(hass: HomeAssistant, db_url: str) -> None:
    """The recorder as HA's bootstrap sets it up (initialise, then the component)."""
    recorder_helper.async_initialize_recorder(hass)
    assert await async_setup_component(hass, "recorder", {"recorder": {"db_url": db_url}})


async def read_only(hass: HomeAssistant) -> tuple[Any, int]:
    """Only HomeIQ's history reader: recorder executor -> temporary file (no sidecar)."""
    selection = async_build_selection(hass, {})
    end = time.time()
    body = await hass.async_add_executor_job(tempfile.TemporaryFile)
    try:
        stats = await get_instance(hass).async_add_executor_job(
            partial(
                write_analyze_body, hass, selection,
                start_ts=end - 30 * 86400, end_ts=end, extra={}, out=body,
            )
        )  # fmt: skip
        size = await hass.async_add_executor_job(body.tell)
    finally:
        await hass.async_add_executor_job(body.close)
    return stats, size


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Create the DB, then measure idle and analysis periods in one HA process."""
    db = work / "home-assistant_v2.db"
    db_url = f"sqlite:///{db}"
    (work / "custom_components").mkdir(exist_ok=True)
    link = work / "custom_components" / "homeiq"
    if not link.exists():
        link.symlink_to(REPO / "custom_components" / "homeiq")

    # 1. The recorder creates its own schema.
    async with async_test_home_assistant(config_dir=str(work)) as hass:
        await setup_recorder(hass, db_url)
        await hass.async_block_till_done()
        await async_wait_recording_done(hass)
        await hass.async_stop()
    fill_s = await asyncio.to_thread(fill_database, db, args.rows, args.entities)
    print(f"database: {args.rows:,} state changes of {args.entities} entities in {fill_s:.0f} s")

    sidecar, url = start_sidecar(work)
    try:
        async with async_test_home_assistant(config_dir=str(work)) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components/
            await setup_recorder(hass, db_url)
            entry = MockConfigEntry(
                domain=DOMAIN,
                data={CONF_MODE: MODE_EXTERNAL, CONF_URL: url, CONF_TOKEN: TOKEN},
                options={"lookback_days": 30, "min_confidence": 0.6},
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            coordinator = entry.runtime_data.coordinator

            baseline, _ = await probe_while(asyncio.sleep(args.idle))
            reading, stats = await probe_while(read_only(hass))
            analysis, data = await probe_while(coordinator.async_analyze())
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_stop()
    finally:
        sidecar.terminate()
        sidecar.wait(timeout=30)
    return {
        "rows": args.rows,
        "entities": args.entities,
        "events_read": data.events,
        "patterns": len(data.patterns),
        "sidecar_summary": data.summary,
        "body_mb": stats[1] / 2**20,
        "idle": {**asdict(baseline), "extra_mb": baseline.extra_mb},
        "read": {**asdict(reading), "extra_mb": reading.extra_mb},
        "analysis": {**asdict(analysis), "extra_mb": analysis.extra_mb},
    }


def main() -> int:
    """Parse flags, run, print the table (and JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--idle", type=float, default=5.0, help="baseline seconds")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="homeiq-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(run(args, work))
    idle, analysis = result["idle"], result["analysis"]
    print(f"\nHomeIQ analysis of {result['events_read']:,} state changes "
          f"({result['patterns']} patterns)")  # fmt: skip
    print(f"request body: {result['body_mb']:.1f} MB (streamed from a temporary file)")
    print(
        f"{'period':<10} {'seconds':>8} {'max stall ms':>13} {'p99 stall ms':>13}"
        f" {'extra RSS MB':>13} {'RSS over idle MB':>17}"
    )
    for name, row in (("idle", idle), ("read", result["read"]), ("analysis", analysis)):
        print(
            f"{name:<10} {row['seconds']:>8.1f} {row['max_stall_ms']:>13.1f}"
            f" {row['p99_stall_ms']:>13.1f} {row['extra_mb']:>13.1f}"
            f" {row['rss_peak_mb'] - idle['rss_start_mb']:>17.1f}"
        )
    worst_stall = max(result["read"]["max_stall_ms"], analysis["max_stall_ms"])
    worst_extra = max(result["read"]["rss_peak_mb"], analysis["rss_peak_mb"]) - idle["rss_start_mb"]
    ok = worst_stall <= 100 and worst_extra <= 200
    print(f"targets (stall <= 100 ms, extra RSS <= 200 MB): {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
