"""The Dockerfile, tested by parts (no Docker engine here).

- its shape: slim Python, libgomp1, runtime requirements only, non-root, volume, port,
  HEALTHCHECK, entrypoint;
- its requirements: exact pins, no torch; identical to what `.venv/runtime` has installed, so
  the fast tests below run the image's commands in that environment (a faithful stand-in);
- its entrypoint and health check, run with the image's paths mapped to a temp dir;
- (slow) the requirements installed into a fresh venv of the image's Python, and the
  entrypoint run from there.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from importlib import metadata
import json
import os
from pathlib import Path
import re
import shlex
import shutil
import socket
import subprocess
import sys

import pytest

from tests.sidecar.server_fixtures import ROOT, TOKEN, run_sidecar, sidecar_env

DOCKERFILE = ROOT / "Dockerfile"
HEAVY = {"torch", "transformers", "optimum", "optimum-intel", "nncf", "sentence-transformers"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, argument) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def one(name: str) -> str:
    found = [arg for word, arg in instructions() if word == name]
    assert len(found) == 1, f"expected one {name}, found {found}"
    return found[0]


def requirement_file() -> Path:
    copies = [arg.split() for word, arg in instructions() if word == "COPY"]
    [src] = [src for src, dest in copies if "requirements" in src]
    return ROOT / src


def pins(path: Path | None = None) -> dict[str, str]:
    """Exact pins of a requirements file, following `-r` includes."""
    path = path or requirement_file()
    result = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            result.update(pins((path.parent / line[2:].strip()).resolve()))
        elif line:
            name, sep, version = line.partition("==")
            assert sep, f"not an exact pin: {line}"
            result[name.strip().lower()] = version.strip()
    return result


def test_dockerfile_shape() -> None:
    assert re.fullmatch(r"python:3\.1[23]-slim(-\w+)?", one("FROM"))
    runs = " ".join(arg for word, arg in instructions() if word == "RUN")
    assert "libgomp1" in runs
    assert "--no-install-recommends" in runs
    assert "pip install --no-cache-dir -r /app/requirements.txt" in runs
    user = one("USER")
    assert user not in {"root", "0"}
    assert "useradd" in runs
    assert user in runs
    assert json.loads(one("VOLUME")) == ["/app/models"]
    assert one("EXPOSE") == "8018"
    health = one("HEALTHCHECK")
    assert "/health" in health
    assert "urllib" in health
    assert "curl" not in health
    entry = json.loads(one("ENTRYPOINT"))
    assert entry[:3] == ["python", "-m", "homeiq_sidecar"]
    assert entry[entry.index("--host") + 1] == "0.0.0.0"  # a container must listen outside
    assert entry[entry.index("--data-dir") + 1] == "/app/models"
    assert "--token" not in entry  # the token comes from HOMEIQ_SIDECAR_TOKEN


def test_requirements_are_exact_runtime_pins() -> None:
    required = pins()
    assert {"openvino", "openvino-tokenizers", "numpy", "aiohttp", "voluptuous"} <= set(required)
    assert not HEAVY & set(required)
    # The fast tests below stand in .venv/runtime for the image: that is faithful only while
    # it holds exactly these versions.
    installed = {name: metadata.version(name) for name in required}
    assert installed == required
    # requirements/runtime.txt (for people and scripts) is the same list.
    assert pins(ROOT / "requirements" / "runtime.txt") == required


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_layout(tmp_path: Path) -> tuple[Path, Path]:
    """Copy what the image's COPY lines copy into a temp /app; return (app dir, models dir)."""
    app = tmp_path / "app"
    app.mkdir()
    for word, arg in instructions():
        if word == "COPY":
            src, dest = arg.split()
            target = app / Path(dest).relative_to("/app")
            source = ROOT / src
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, target)
    models = app / "models"
    models.mkdir()
    return app, models


def adapted_entrypoint(python: str, models: Path, port: int) -> list[str]:
    """The image's ENTRYPOINT with its interpreter, volume and port mapped to this machine."""
    entry = json.loads(one("ENTRYPOINT"))
    mapping = {"python": python, "/app/models": str(models), "8018": str(port)}
    return [mapping.get(part, part) for part in entry]


@contextlib.contextmanager
def image_running(python: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    app, models = image_layout(tmp_path)
    port = free_port()
    env = sidecar_env({"HOMEIQ_SIDECAR_TOKEN": TOKEN, "PYTHONPATH": str(app)})
    # ENV lines of the image (PYTHONPATH=/app maps to the temp app dir).
    with run_sidecar([], command=adapted_entrypoint(python, models, port), env=env) as sidecar:
        assert sidecar.ready["host"] == "0.0.0.0"
        assert sidecar.port == port
        yield port, models


def run_healthcheck(python: str, port: int) -> int:
    health = one("HEALTHCHECK")
    command = json.loads(health[health.index("CMD") + 3 :].strip())
    command = [
        python if part == "python" else part.replace(":8018/", f":{port}/") for part in command
    ]
    return subprocess.run(command, timeout=30, check=False).returncode


def test_entrypoint_answers_health(tmp_path: Path) -> None:
    with image_running(sys.executable, tmp_path) as (port, models):
        assert run_healthcheck(sys.executable, port) == 0
        # Data (the text cache) goes only into the volume.
        assert any(models.rglob("*.sqlite3"))
    # With nothing listening the health check fails: it can tell.
    assert run_healthcheck(sys.executable, port) != 0


def test_entrypoint_refuses_to_start_without_token(tmp_path: Path) -> None:
    app, models = image_layout(tmp_path)
    env = sidecar_env({"PYTHONPATH": str(app)})
    proc = subprocess.run(
        adapted_entrypoint(sys.executable, models, free_port()),
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "token" in proc.stderr


def image_python() -> str | None:
    """An interpreter of the image's Python version on this machine, if there is one."""
    version = re.match(r"python:(3\.\d+)", one("FROM"))
    assert version
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(
        str(p) for p in Path(pyenv_root).glob(f"versions/{version[1]}.*/bin/python3")
    )
    candidates += [f"/usr/bin/python{version[1]}", shutil.which(f"python{version[1]}")]
    for candidate in candidates:
        # A pyenv shim may exist and still not run: ask the interpreter itself.
        if (
            candidate
            and Path(candidate).exists()
            and subprocess.run(
                [candidate, "-c", "import venv"], capture_output=True, check=False, timeout=30
            ).returncode
            == 0
        ):
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fresh_venv_from_requirements(tmp_path: Path) -> None:
    python = image_python()
    if python is None:
        pytest.skip("no interpreter of the image's Python version here")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    vpython = str(venv / "bin" / "python")
    install = [vpython, "-m", "pip", "install", "--no-cache-dir", "-r", str(requirement_file())]
    result = subprocess.run(install, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    frozen = subprocess.run(
        [vpython, "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for heavy in HEAVY:
        assert f"\n{heavy}==" not in "\n" + frozen, f"{heavy} was pulled in"
    with image_running(vpython, tmp_path) as (port, _):
        assert run_healthcheck(vpython, port) == 0
    print(shlex.join(install))


def test_dockerignore_keeps_only_what_the_image_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # .venv and .cache (gigabytes) never reach the build context
    kept = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    for word, arg in instructions():
        if word == "COPY":
            source = arg.split()[0]
            assert any(source == k or source.startswith(k + "/") for k in kept), source
