"""The real sidecar as a subprocess: ready line, auth, limits, queue, SIGTERM."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request

import pytest

from tests.sidecar.server_fixtures import (
    PACKAGE_PATH,
    ROOT,
    TOKEN,
    big_home,
    planted_home,
    run_sidecar,
    sidecar_env,
)

pytestmark = pytest.mark.timeout(180)


def call(
    url: str, *, data: bytes | None = None, token: str | None = TOKEN, timeout: float = 60
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def base_args(data_dir: Path, *extra: str) -> list[str]:
    return [
        "--port", "0", "--data-dir", str(data_dir), "--token", TOKEN, "--no-convert", *extra,
    ]  # fmt: skip


def test_ready_line_routes_and_sigterm(tmp_path: Path) -> None:
    with run_sidecar(base_args(tmp_path / "data")) as sidecar:
        assert sidecar.ready["event"] == "ready"
        assert sidecar.host == "127.0.0.1"  # loopback unless told otherwise
        assert sidecar.port > 0
        assert sidecar.ready["version"]

        status, _, body = call(sidecar.url + "/health", token=None)
        assert (status, body["status"]) == (200, "ok")

        status, _, body = call(sidecar.url + "/v1/models", token=None)
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
        status, _, body = call(sidecar.url + "/v1/models")
        assert status == 200
        assert set(body["models"]) == {"embed", "rerank", "classify"}

        status, _, body = call(sidecar.url + "/v1/embed", data=b"x" * (1024 * 1024 + 1))
        assert (status, body["error"]["code"]) == (413, "body_too_large")
        status, _, body = call(sidecar.url + "/v1/embed", data=b"{oops")
        assert (status, body["error"]["code"]) == (400, "invalid_json")
        status, _, body = call(sidecar.url + "/nope")
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, _, body = call(
            sidecar.url + "/v1/embed",
            data=json.dumps({"texts": ["a"], "model": "/etc/passwd"}).encode(),
        )
        assert (status, body["error"]["code"]) == (400, "invalid_model_name")

        rows = planted_home()
        status, _, body = call(
            sidecar.url + "/v1/analyze",
            data=json.dumps({"events": rows, "time_zone": "Europe/Amsterdam"}).encode(),
        )
        assert status == 200, body
        assert body["summary"]["events"] == len(rows)

        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(timeout=20) == 0
        assert sidecar.proc.stdout is not None
        assert sidecar.proc.stdout.read() == ""  # the ready line was stdout's only line
        log = sidecar.stderr()
        assert TOKEN not in log  # the token is never logged
        assert "Traceback" not in log


def test_queue_full_is_429_and_sigterm_during_work(tmp_path: Path) -> None:
    body = json.dumps({"events": big_home(300_000)}).encode()
    with run_sidecar(base_args(tmp_path / "data", "--max-queue", "0")) as sidecar:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(call, sidecar.url + "/v1/analyze", data=body) for _ in range(3)]
            statuses = sorted(f.result()[0] for f in futures)
        # One runs; with no waiting room, requests arriving meanwhile are refused.
        assert statuses[0] == 200
        assert 429 in statuses, statuses

        # SIGTERM while an analysis runs still exits promptly with 0.
        pool2 = concurrent.futures.ThreadPoolExecutor(1)
        pending = pool2.submit(call, sidecar.url + "/v1/analyze", data=body)
        time.sleep(1.5)
        started = time.monotonic()
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 15
        # The connection may be cut: that is fine here.
        with contextlib.suppress(Exception):
            pending.result(timeout=30)
        pool2.shutdown()


def test_refuses_to_start_without_token(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "homeiq_sidecar", "--port", "0", "--data-dir", str(tmp_path)],
        env=sidecar_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "token is required" in proc.stderr
    assert proc.stdout == ""


def test_scripts_sidecar_runs_with_env_settings(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = sidecar_env(
        {
            "HOMEIQ_SIDECAR_DATA_DIR": str(tmp_path / "data"),
            "HOMEIQ_SIDECAR_TOKEN_FILE": str(token_file),
            "HOMEIQ_SIDECAR_PYTHON": sys.executable,
        }
    )
    env.pop("PYTHONPATH")  # the script sets it
    with run_sidecar(
        ["--port", "0", "--no-convert"], command=[str(ROOT / "scripts" / "sidecar")], env=env
    ) as sidecar:
        status, _, body = call(sidecar.url + "/v1/models")
        assert status == 200
        assert set(body["models"]) == {"embed", "rerank", "classify"}
        assert PACKAGE_PATH.exists()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "homeiq_sidecar", "--port", str(port),
             "--data-dir", str(tmp_path), "--token", TOKEN],
            env=sidecar_env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_sigint_also_exits_cleanly(tmp_path: Path) -> None:
    with run_sidecar(base_args(tmp_path / "data")) as sidecar:
        sidecar.proc.send_signal(signal.SIGINT)
        assert sidecar.proc.wait(timeout=20) == 0


def test_models_flag_and_environment(tmp_path: Path) -> None:
    """`--models ROLE=SOURCE ...` and HOMEIQ_SIDECAR_MODELS reach the models the sidecar serves."""
    env = sidecar_env({"HOMEIQ_SIDECAR_MODELS": "classify=org/classifier,embed=org/overridden"})
    args = base_args(tmp_path / "data", "--models", "embed=org/embedder", "rerank=/models/bge")
    with run_sidecar(args, env=env) as sidecar:
        status, _, body = call(sidecar.url + "/v1/models")
        assert status == 200
        sources = {role: info["source"] for role, info in body["models"].items()}
        assert sources == {
            "embed": "org/embedder",  # the flag wins over the environment
            "rerank": "/models/bge",
            "classify": "org/classifier",
        }

    proc = subprocess.run(
        [sys.executable, "-m", "homeiq_sidecar", *base_args(tmp_path, "--models", "speech=x")],
        env=sidecar_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "argument --models: unknown model role 'speech'" in proc.stderr
    assert proc.stdout == ""
