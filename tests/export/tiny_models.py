"""Session helper: build the tiny test models once (export venv), reuse them while unchanged.

Runtime tests (no torch) call ``ensure_tiny_models()``; the build runs in ``.venv/export`` and
lands in ``.cache/test-models/``, stamped with a hash of the code that produced it and of the
requirement files of both venvs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".cache" / "test-models"
EXPORT_PYTHON = ROOT / ".venv" / "export" / "bin" / "python"
RUNTIME_PYTHON = ROOT / ".venv" / "runtime" / "bin" / "python"
SIDECAR = ROOT / "custom_components" / "homeiq" / "homeiq_sidecar"
MODELS_PKG = SIDECAR / "models"
REQUIREMENTS = ROOT / "requirements"
_INPUTS = [
    Path(__file__).with_name("build_tiny_models.py"),
    MODELS_PKG / "convert.py",
    MODELS_PKG / "quantize.py",
    MODELS_PKG / "calibration.py",
    MODELS_PKG / "store.py",
    MODELS_PKG / "names.py",
    # The library versions: the export venv builds the models (torch, optimum-intel, nncf,
    # openvino) and the runtime venv reads them (its openvino must read the IR the build wrote).
    # An upgrade rebuilds the models.
    REQUIREMENTS / "export.txt",
    REQUIREMENTS / "export-nodeps.txt",
    REQUIREMENTS / "runtime.txt",
    REQUIREMENTS / "runtime-test.txt",
    REQUIREMENTS / "runtime-nodeps.txt",
    REQUIREMENTS / "convert.txt",
    SIDECAR / "requirements.txt",
]


def _stamp() -> str:
    digest = hashlib.sha256()
    for path in _INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def env_with_pythonpath() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "custom_components" / "homeiq")])
    env["HF_HUB_OFFLINE"] = "1"  # the builder never touches the model hub
    return env


def ensure_tiny_models() -> Path:
    """Return the built models dir, building it first if missing or stale."""
    stamp = _stamp()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with (OUT.parent / "test-models.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions wait for one build
        stamp_file = OUT / "stamp"
        if stamp_file.is_file() and stamp_file.read_text() == stamp:
            return OUT
        if not EXPORT_PYTHON.exists():
            raise RuntimeError(
                f"{EXPORT_PYTHON} is missing: run scripts/setup to build the test models"
            )
        tmp = OUT.with_name("test-models.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(
            [str(EXPORT_PYTHON), "-m", "tests.export.build_tiny_models", str(tmp)],
            cwd=ROOT,
            env=env_with_pythonpath(),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )
        (tmp / "stamp").write_text(stamp)
        shutil.rmtree(OUT, ignore_errors=True)
        tmp.rename(OUT)
        return OUT


def cached_entry(base: Path, role: str) -> Path:
    """The one converted entry for ``role`` under a cache dir built by the builder."""
    (entry,) = [p for p in (base / role).iterdir() if p.is_dir() and not p.name.startswith(".")]
    return entry


def converted_entries() -> dict[str, str]:
    """Converted INT8 entries the last build left, by role (none where it has not run).

    The real all-MiniLM-L6-v2 embeds (small and meaningful); rerank and classify are the tiny
    random models of the real architectures.
    """
    found: dict[str, str] = {}
    for role, folder in (
        ("embed", OUT / "minilm" / "cache" / "embed"),
        ("rerank", OUT / "cache" / "rerank"),
        ("classify", OUT / "cache" / "classify"),
    ):
        entries = sorted(p.parent for p in folder.glob("*-int8/manifest.json"))
        if entries:
            found[role] = str(entries[0])
    return found
