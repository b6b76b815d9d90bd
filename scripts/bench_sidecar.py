"""Benchmark: /v1/analyze on a home, first run against a re-run of the same home.

Usage (runtime venv, via `scripts/bench sidecar`):
    scripts/bench sidecar [--json OUT] [--embed-model P] [--rerank-model P] [--classify-model P]
                          [--habits N] [--days D] [--idle-unload S] [--daily N]

The real sidecar runs as a subprocess from the torch-free runtime environment, with a fresh data
dir: the first /v1/analyze loads the models and computes every embedding, pair score and
classification; the second finds them all in the on-disk text cache. `cache_rerun_speedup` is
first / second wall time (target >= 20). `sidecar_peak_rss_mb` is the sidecar process's own
peak RSS (VmHWM) after both runs; with `--idle-unload S`, `sidecar_rss_after_runs_mb` and
`sidecar_rss_idle_mb` are its RSS right after the runs and once the idle models unloaded.
`--daily N` measures a daily analysis instead: a home's last 30 days, the window moved on by a
day N times, through one sidecar; each day's model work (`*_computed`) beside the first run's.

Models default to what the offline tests built (.cache/test-models): the real all-MiniLM-L6-v2
for embed and the tiny random models for rerank and classify; pass full-size converted entries
(e.g. from `scripts/bench models`) to measure those. `measure_cache_rerun()` is importable, so
the models benchmark can add the figure to its own JSON; it needs only the standard library.

The default home (12 habits -> about 50 patterns, 2,500 reranked pairs) keeps the first run to
minutes with full-size models on 2 cores; each pattern is reranked against up to 100 others, so
the first run grows with patterns x min(patterns - 1, 100).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator, Mapping
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import os
from pathlib import Path
import random
import secrets
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
import urllib.request

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PYTHON = ROOT / ".venv" / "runtime" / "bin" / "python"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from peak_rss import peak_rss_mb, rss_mb  # noqa: E402

from tests.export.tiny_models import converted_entries  # noqa: E402


def ha_names(entity_ids: Iterable[str]) -> dict[str, str]:
    """The names the integration sends with a home's events (history.py sends each entity's
    `State.name`); these entities have no friendly name, so HA's own fallback: the object id
    with spaces for underscores."""
    return {e: e.partition(".")[2].replace("_", " ") for e in entity_ids}


def synthetic_home(habits: int = 60, days: int = 30, seed: int = 11) -> list[list[Any]]:
    """Event rows: `habits` daily time-of-day habits and as many trigger -> action pairs."""
    rng = random.Random(seed)
    rooms = ["kitchen", "hallway", "bedroom", "bathroom", "living_room", "office", "garage",
             "porch", "attic", "cellar", "nursery", "study"]  # fmt: skip
    start = datetime(2026, 1, 5, tzinfo=UTC)
    rows: list[list[Any]] = []
    for i in range(habits):
        room = rooms[i % len(rooms)]
        light = f"light.{room}_{i}"
        sensor = f"binary_sensor.{room}_motion_{i}"
        minute = rng.uniform(0, 24 * 60)
        for day in range(days):
            base = start + timedelta(days=day)
            at = base + timedelta(minutes=minute + rng.gauss(0, 3))
            rows.append([at.timestamp(), light, "on", None, None, "u"])
            rows.append([(at + timedelta(minutes=30)).timestamp(), light, "off", None, None, "u"])
            trig = base + timedelta(minutes=rng.uniform(0, 24 * 60))
            rows.append([trig.timestamp(), sensor, "on", None, None, None])
            rows.append([(trig + timedelta(seconds=rng.uniform(5, 40))).timestamp(),
                         f"switch.{room}_fan_{i}", "on", None, None, "u"])  # fmt: skip
            rows.append(
                [(trig + timedelta(minutes=2)).timestamp(), sensor, "off", None, None, None]
            )
            rows.append([(trig + timedelta(minutes=20)).timestamp(),
                         f"switch.{room}_fan_{i}", "off", None, None, "u"])  # fmt: skip
    rows.sort(key=lambda r: r[0])
    return rows


def _post(url: str, token: str, body: bytes, timeout: float = 3600) -> dict[str, Any]:
    # The URL is built from the ready line of the sidecar this script started: http only.
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
        result: dict[str, Any] = json.loads(resp.read())
        return result


@dataclass(frozen=True)
class RunningSidecar:
    """A sidecar process started by `start_sidecar`, with where it listens."""

    proc: subprocess.Popen[str]
    host: str
    port: int
    token: str


@contextlib.contextmanager
def start_sidecar(
    models: Mapping[str, str],
    *extra: str,
    python: str | os.PathLike[str] | None = None,
) -> Iterator[RunningSidecar]:
    """A fresh sidecar on loopback with its own data dir and token; SIGTERM afterwards."""
    python = str(python or (RUNTIME_PYTHON if RUNTIME_PYTHON.exists() else sys.executable))
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_SIDECAR_")}
    env["PYTHONPATH"] = str(ROOT / "custom_components" / "homeiq")
    env["HOMEIQ_SIDECAR_TOKEN"] = token  # not on argv
    env["HF_HUB_OFFLINE"] = "1"
    with tempfile.TemporaryDirectory(prefix="homeiq-bench-") as data_dir:
        cmd = [python, "-m", "homeiq_sidecar", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", data_dir, "--no-convert", "--idle-unload", "0",
               "--log-level", "WARNING", *extra]  # fmt: skip
        for role, source in models.items():
            cmd += [f"--{role}-model", source]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        # A SIGTERM'd benchmark unwinds this block (SystemExit) instead of dying at once, so
        # the sidecar is stopped too rather than left running as an orphan.
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main_thread else None
        try:
            assert proc.stdout is not None
            ready_by = time.monotonic() + 120
            line = ""
            while not line and time.monotonic() < ready_by and proc.poll() is None:
                if select.select([proc.stdout], [], [], 0.5)[0]:
                    line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the sidecar did not start")
            ready = json.loads(line)
            yield RunningSidecar(
                proc=proc, host=ready["host"], port=int(ready["port"]), token=token
            )
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if main_thread:
                signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--embed-model`` etc.: a converted model per role instead of the test models."""
    for role in ("embed", "rerank", "classify"):
        parser.add_argument(
            f"--{role}-model", help=f"converted {role} model (default: test models)"
        )


def chosen_models(args: argparse.Namespace) -> dict[str, str]:
    """The test models, with the roles given by add_model_options' flags replaced."""
    models = converted_entries()
    for role in ("embed", "rerank", "classify"):
        if (value := getattr(args, f"{role}_model")) is not None:
            models[role] = value
    return models


def emit(result: Mapping[str, Any], path: Path | None, *, hide: tuple[str, ...] = ()) -> None:
    """Print the figures (less the ``hide`` keys) and write all of them to ``path``."""
    print(json.dumps({k: v for k, v in result.items() if k not in hide}, indent=2))
    if path:
        path.write_text(json.dumps(result, indent=2) + "\n")


def measure_cache_rerun(
    models: Mapping[str, str] | None = None,
    *,
    habits: int = 12,
    days: int = 30,
    python: str | os.PathLike[str] | None = None,
    idle_unload_s: float | None = None,
) -> dict[str, Any]:
    """Run /v1/analyze twice on one home through a fresh sidecar; return timings and speedup.

    With ``idle_unload_s``, the sidecar unloads idle models after that long, and its resident
    memory is read right after the runs and again once the models have unloaded."""
    models = dict(models if models is not None else converted_entries())
    rows = synthetic_home(habits, days)
    names = ha_names({row[1] for row in rows})
    body = json.dumps({"events": rows, "time_zone": "UTC", "names": names}).encode()
    extra = ["--idle-unload", str(idle_unload_s)] if idle_unload_s else []
    idle: dict[str, float] = {}
    with start_sidecar(models, *extra, python=python) as sidecar:
        url = f"http://{sidecar.host}:{sidecar.port}/v1/analyze"
        started = time.perf_counter()
        first = _post(url, sidecar.token, body)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = _post(url, sidecar.token, body)
        second_s = time.perf_counter() - started
        peak_mb = round(peak_rss_mb(sidecar.proc.pid), 1)
        if idle_unload_s:
            idle["sidecar_rss_after_runs_mb"] = round(rss_mb(sidecar.proc.pid), 1)
            # The reaper looks every idle/4 s (at most 30 s), then unloads.
            time.sleep(idle_unload_s + min(idle_unload_s / 4, 30.0) + 2.0)
            idle["sidecar_rss_idle_mb"] = round(rss_mb(sidecar.proc.pid), 1)
    if second["patterns"] != first["patterns"]:
        raise RuntimeError("the re-run returned different patterns")
    return {
        "events": first["summary"]["events"],
        "patterns": first["summary"]["patterns"],
        "models": first["summary"]["models"],
        "analyze_first_s": round(first_s, 3),
        "analyze_rerun_s": round(second_s, 3),
        "mining_s": second["summary"]["mining_s"],
        "cache_first": first["summary"]["cache"],
        "cache_rerun": second["summary"]["cache"],
        "cache_rerun_speedup": round(first_s / second_s, 1),
        # The whole sidecar after a first analysis: models loaded, every batch shape met.
        "sidecar_peak_rss_mb": peak_mb,
        **idle,
    }


def measure_daily(
    models: Mapping[str, str] | None = None, *, days: int = 5, window_days: int = 30
) -> dict[str, Any]:
    """A daily analysis: a synthetic home's last `window_days` days, the window moved on by a
    day `days` times, all through one sidecar. Reports the model work of each day beside the
    first run's (the baseline): what the text cache saves when the home barely changes."""
    from homeiq_miner import synth

    models = dict(models if models is not None else converted_entries())
    home = synth.make_home(3, days=window_days + days, rooms=3, time_zone="UTC")
    rows = [list(event) for event in home.events()]
    start = min(row[0] for row in rows)
    names = ha_names({row[1] for row in rows})
    runs = []
    with start_sidecar(models) as sidecar:
        url = f"http://{sidecar.host}:{sidecar.port}/v1/analyze"
        for day in range(days + 1):
            low, high = start + day * 86400, start + (day + window_days) * 86400
            body = {
                "events": [row for row in rows if low <= row[0] < high],
                "automation_context_ids": sorted(home.automation_context_ids),
                "time_zone": "UTC",
                "names": names,
            }
            started = time.perf_counter()
            out = _post(url, sidecar.token, json.dumps(body).encode())
            cache = out["summary"]["cache"]
            runs.append({
                "day": day,
                "patterns": out["summary"]["patterns"],
                "seconds": round(time.perf_counter() - started, 3),
                **{f"{role}_computed": cache[role]["computed"] for role in cache},
            })  # fmt: skip
    first, later = runs[0], runs[1:]
    share = {
        role: round(statistics.median(r[f"{role}_computed"] for r in later) / first[f"{role}_computed"], 3)
        for role in ("embed", "rerank", "classify")
        if first.get(f"{role}_computed")
    }  # fmt: skip
    return {"daily_runs": runs, "daily_computed_share_median": share}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--habits", type=int, default=12)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--idle-unload", type=float, help="S: also read the sidecar's RSS once idle models unload"
    )
    parser.add_argument(
        "--daily", type=int, metavar="N", help="instead: N daily re-runs, the window moved a day"
    )
    add_model_options(parser)
    args = parser.parse_args(argv)
    models = chosen_models(args)
    if args.daily:
        daily = measure_daily(models, days=args.daily)
        emit({**daily, "model_sources": models}, args.json)
        return 0
    result = measure_cache_rerun(
        models, habits=args.habits, days=args.days, idle_unload_s=args.idle_unload
    )
    result["model_sources"] = models
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
