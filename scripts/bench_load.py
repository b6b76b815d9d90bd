"""Benchmark: the sidecar under concurrent load, and a soak of repeated analyses.

Usage (runtime venv, via `scripts/bench load|soak`):
    scripts/bench load [--max-queue 2] [--clients 12] [--requests 120] [--json OUT]
    scripts/bench soak [--minutes 30] [--homes 0] [--max-iterations 100000] [--json OUT]

Both start a real sidecar subprocess on 127.0.0.1 (port 0) with the models the offline tests
built (.cache/test-models: the real all-MiniLM-L6-v2 for embed, tiny random rerank/classify);
pass `--embed-model` etc. for others. Every loop is bounded in count and time.

load: `--clients` threads send /v1/analyze, /v1/rerank and /v1/embed requests round-robin (no
retries) to a sidecar with a small `--max-queue`; per route it reports the count of each status,
latency p50/p95 and the sidecar's RSS (VmRSS) before, peak during and after. The baseline is the
same requests sent one at a time; the ratios compare the two.

soak: /v1/analyze of a synthetic home (homeiq_miner.synth, a new seed each iteration so the
models compute every time, or `--homes N` cycled so re-runs hit the text cache as a real home's
daily runs do) until `--minutes` pass; the sidecar's RSS is read after every
iteration. Growth (target < 10 %) = median of the last 5 samples / median of the first 5 after
`--warmup-minutes` - 1: the first analyses load the models and meet each batch shape once (every
new shape costs the CPU plugin kernels and buffers, a bounded set, see runners._shaped), which
is start-up, not a leak. The growth from the very first samples and the slope after warm-up
(MiB per 1000 analyses, least squares) are reported too, so a slow leak shows either way.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass
import http.client
import json
from pathlib import Path
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "custom_components" / "homeiq"))

from bench_sidecar import (  # noqa: E402
    add_model_options,
    chosen_models,
    emit,
    ha_names,
    start_sidecar as start_process,
)
from peak_rss import rss_mb  # noqa: E402

from homeiq_miner import synth  # noqa: E402

ROUTES = ("/v1/analyze", "/v1/rerank", "/v1/embed")
REQUEST_TIMEOUT_S = 300.0


@dataclass
class Sidecar:
    """A sidecar subprocess this script started, and how to reach it."""

    proc: subprocess.Popen[str]
    host: str
    port: int
    token: str

    def rss_mib(self) -> float:
        """Resident set size of the sidecar process (VmRSS), MiB."""
        return rss_mb(self.proc.pid)

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, float, bytes]:
        """(status, seconds, body) of one request; a new connection each time, as HA's client."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, time.perf_counter() - started, data
        finally:
            conn.close()


@contextlib.contextmanager
def start_sidecar(models: Mapping[str, str], *extra: str) -> Iterator[Sidecar]:
    """A fresh sidecar on loopback with its own data dir; SIGTERM afterwards."""
    with start_process(models, *extra) as running:
        yield Sidecar(proc=running.proc, host=running.host, port=running.port, token=running.token)


def home_rows(seed: int, *, days: int = 28, rooms: int = 1) -> tuple[list[list[Any]], list[str]]:
    """Event rows and automation context ids of a synthetic home."""
    home = synth.make_home(seed, days=days, rooms=rooms, time_zone="UTC")
    rows = [list(e) for e in home.events()]
    return rows, sorted(home.automation_context_ids)


def analyze_body(seed: int, *, days: int = 28, rooms: int = 1) -> bytes:
    rows, contexts = home_rows(seed, days=days, rooms=rooms)
    body = {
        "events": rows,
        "automation_context_ids": contexts,
        "time_zone": "UTC",
        "names": ha_names({row[1] for row in rows}),  # as the integration sends them
    }
    return json.dumps(body).encode()


def model_bodies(index: int) -> dict[str, bytes]:
    """Embed and rerank bodies; `index` varies the texts so nothing is served from a cache."""
    rooms = ["kitchen", "hallway", "bedroom", "office", "garage", "porch", "attic", "study"]
    texts = [
        f"{rooms[(index + i) % len(rooms)]} light turns on at {6 + i % 12}:{index % 60:02d}"
        for i in range(32)
    ]
    return {
        "/v1/embed": json.dumps({"texts": texts}).encode(),
        "/v1/rerank": json.dumps(
            {"query": f"turn on the {rooms[index % len(rooms)]} light", "documents": texts}
        ).encode(),
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(results: list[tuple[str, int, float]]) -> dict[str, Any]:
    """Per route: status counts and p50/p95 latency (ms) of the 200s."""
    by_route: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for route, status, seconds in results:
        by_route[route].append((status, seconds))
    out: dict[str, Any] = {}
    for route in ROUTES:
        rows = by_route.get(route, [])
        ok = [s * 1000 for status, s in rows if status == 200]
        p50, p95 = percentile(ok, 0.5), percentile(ok, 0.95)
        refused = percentile([s * 1000 for status, s in rows if status == 429], 0.5)
        out[route] = {
            "requests": len(rows),
            "status": dict(sorted(Counter(str(status) for status, _ in rows).items())),
            "p50_ms": None if p50 is None else round(p50, 1),
            "p95_ms": None if p95 is None else round(p95, 1),
            "p50_429_ms": None if refused is None else round(refused, 1),
        }
    return out


class RssSampler:
    """Samples the sidecar's RSS in a thread while a phase runs (peak and last)."""

    def __init__(self, sidecar: Sidecar, every_s: float = 0.1) -> None:
        self._sidecar = sidecar
        self._every = every_s
        self._stop = threading.Event()
        self.peak = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, self._sidecar.rss_mib())
            self._stop.wait(self._every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_load(args: argparse.Namespace, models: Mapping[str, str]) -> dict[str, Any]:
    """Sequential baseline, then the same mix from `clients` threads at once."""
    analyze = [analyze_body(seed) for seed in range(3)]
    plan: list[tuple[str, bytes]] = []
    for i in range(args.requests):
        route = ROUTES[i % len(ROUTES)]
        body = analyze[i % len(analyze)] if route == "/v1/analyze" else model_bodies(i)[route]
        plan.append((route, body))

    with start_sidecar(models, "--max-queue", str(args.max_queue)) as sidecar:
        # Warm-up: load every model and fill the analysis cache, so both phases see the same.
        for route in ROUTES:
            body = analyze[0] if route == "/v1/analyze" else model_bodies(0)[route]
            for _ in range(10):  # 503 model_loading while a model loads
                status, _, data = sidecar.request("POST", route, body)
                if status != 503:
                    break
                time.sleep(1)
            if status != 200:
                raise RuntimeError(f"warm-up {route}: {status} {data[:300]!r}")
        for body in analyze[1:]:
            sidecar.request("POST", "/v1/analyze", body)
        rss_before = sidecar.rss_mib()

        started = time.perf_counter()
        with RssSampler(sidecar) as seq_rss:
            sequential = [
                (route, *sidecar.request("POST", route, body)[:2]) for route, body in plan
            ]
        sequential_s = time.perf_counter() - started
        rss_after_sequential = sidecar.rss_mib()

        max_waiting = 0

        def watch_queue(stop: threading.Event) -> None:
            nonlocal max_waiting
            while not stop.is_set():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    status, _, data = sidecar.request("GET", "/v1/models")
                    if status == 200:
                        max_waiting = max(max_waiting, json.loads(data)["queue"]["waiting"])
                stop.wait(0.05)

        def send(item: tuple[str, bytes]) -> tuple[str, int, float]:
            route, body = item
            status, seconds, _ = sidecar.request("POST", route, body)
            return route, status, seconds

        stop = threading.Event()
        watcher = threading.Thread(target=watch_queue, args=(stop,), daemon=True)
        watcher.start()
        started = time.perf_counter()
        with RssSampler(sidecar) as conc_rss, ThreadPoolExecutor(args.clients) as pool:
            concurrent = list(pool.map(send, plan))
        concurrent_s = time.perf_counter() - started
        stop.set()
        watcher.join()
        rss_after = sidecar.rss_mib()
        health, _, _ = sidecar.request("GET", "/health")

    seq = summarise(sequential)
    conc = summarise(concurrent)
    ratios = {}
    for route in ROUTES:
        a, b = conc[route]["p50_ms"], seq[route]["p50_ms"]
        ratios[route] = {"p50_concurrent_over_sequential": round(a / b, 2) if a and b else None}
    bad = [s for _, s, _ in concurrent if s >= 500 and s != 503]
    return {
        "max_queue": args.max_queue,
        "clients": args.clients,
        "requests": args.requests,
        "sequential": {
            "wall_s": round(sequential_s, 2),
            "routes": seq,
            "rss_peak_mib": round(seq_rss.peak, 1),
            "rss_after_mib": round(rss_after_sequential, 1),
        },
        "concurrent": {
            "wall_s": round(concurrent_s, 2),
            "routes": conc,
            "rss_peak_mib": round(conc_rss.peak, 1),
            "rss_after_mib": round(rss_after, 1),
            "max_waiting_seen": max_waiting,
        },
        "ratios": ratios,
        "rss_before_mib": round(rss_before, 1),
        "server_errors_other_than_503": len(bad),
        "health_after": health,
        "models": dict(models),
    }


def run_soak(args: argparse.Namespace, models: Mapping[str, str]) -> dict[str, Any]:
    """Analyses until the time or iteration bound; RSS after each."""
    deadline = time.monotonic() + args.minutes * 60
    samples: list[float] = []
    durations: list[float] = []
    failures: Counter[str] = Counter()
    warm_from: int | None = None  # first iteration after the warm-up
    with start_sidecar(models) as sidecar:
        rss_start = sidecar.rss_mib()
        warm_at = time.monotonic() + args.warmup_minutes * 60
        iteration = 0
        while iteration < args.max_iterations and time.monotonic() < deadline:
            seed = 1000 + (iteration % args.homes if args.homes else iteration)
            body = analyze_body(seed, days=args.days, rooms=args.rooms)
            try:
                status, seconds, data = sidecar.request("POST", "/v1/analyze", body)
            except OSError as err:
                status, seconds, data = -1, 0.0, str(err).encode()
            if status != 200:
                failures[str(status)] += 1
                print(f"iteration {iteration}: {status} {data[:200]!r}", file=sys.stderr)
            durations.append(seconds)
            samples.append(sidecar.rss_mib())
            if warm_from is None and time.monotonic() >= warm_at:
                warm_from = len(samples)
            if iteration % 10 == 0:
                print(
                    f"iteration {iteration}: {seconds:.2f} s, RSS {samples[-1]:.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            iteration += 1
            if sidecar.proc.poll() is not None:
                failures["sidecar_died"] += 1
                break
    steady = samples[warm_from:] if warm_from is not None else []
    first = statistics.median(samples[:5]) if samples else 0.0
    warm = statistics.median(steady[:5]) if steady else 0.0
    last = statistics.median(samples[-5:]) if samples else 0.0
    slope = (
        statistics.linear_regression(range(len(steady)), steady).slope * 1000
        if len(steady) > 1
        else None
    )
    return {
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "homes": args.homes or "new each iteration",
        "iterations": len(samples),
        "warmup_iterations": warm_from,
        "failures": dict(failures),
        "rss_start_mib": round(rss_start, 1),
        "rss_first5_median_mib": round(first, 1),
        "rss_after_warmup5_median_mib": round(warm, 1),
        "rss_last5_median_mib": round(last, 1),
        "rss_max_mib": round(max(samples, default=0.0), 1),
        "rss_growth_pct": round((last / warm - 1) * 100, 2) if warm else None,
        "rss_growth_from_first_pct": round((last / first - 1) * 100, 2) if first else None,
        "rss_slope_mib_per_1000": round(slope, 2) if slope is not None else None,
        "analyze_s_p50": round(statistics.median(durations), 3) if durations else None,
        "analyze_s_max": round(max(durations), 3) if durations else None,
        "events_per_home": len(home_rows(1000, days=args.days, rooms=args.rooms)[0]),
        "rss_samples_mib": [round(s, 1) for s in samples],
        "models": dict(models),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    load = sub.add_parser("load", help="concurrent requests against a bounded queue")
    load.add_argument("--max-queue", type=int, default=2)
    load.add_argument("--clients", type=int, default=12)
    load.add_argument("--requests", type=int, default=120)
    soak = sub.add_parser("soak", help="repeated analyses, RSS tracked")
    soak.add_argument("--minutes", type=float, default=30.0)
    soak.add_argument("--max-iterations", type=int, default=100_000)
    soak.add_argument(
        "--warmup-minutes", type=float, default=5.0, help="start-up excluded from the growth"
    )
    soak.add_argument("--days", type=int, default=28)
    soak.add_argument("--rooms", type=int, default=2)
    soak.add_argument(
        "--homes",
        type=int,
        default=0,
        help="cycle over N homes (re-runs hit the text cache); 0 = a new home every iteration",
    )
    for p in (load, soak):
        p.add_argument("--json", type=Path, help="write the figures here too")
        add_model_options(p)
    args = parser.parse_args(argv)
    models = chosen_models(args)
    result = run_load(args, models) if args.what == "load" else run_soak(args, models)
    # The soak's full sample list goes to --json only; stdout keeps the summary readable.
    emit(result, args.json, hide=("rss_samples_mib",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
