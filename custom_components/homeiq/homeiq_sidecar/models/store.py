"""Cache entries on disk: layout, manifest, and atomic publication.

Layout: ``<cache_dir>/<role>/<safe-name>-<precision>/`` with the IR files and ``manifest.json``.
A conversion writes into a hidden temp dir beside it and renames it into place only when
complete, so a reader never sees a half-written model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
import hashlib
import json
from pathlib import Path
import shutil
import tempfile
import time
from typing import Any

from .names import safe_name

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# A conversion writes its temp dir for minutes at most; one untouched this long was left by a
# killed process and holds up to a model's size of disk.
STALE_TEMP_AGE_S = 3600.0


def entry_dir(cache_dir: Path, role: str, source: str, precision: str) -> Path:
    """Where the converted model for (role, source, precision) lives."""
    return cache_dir / role / f"{safe_name(source)}-{precision}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path, *, verify_hashes: bool = False) -> dict[str, Any] | None:
    """The manifest of a complete entry, or None if absent or any listed file is off.

    Sizes are always checked (cheap); hashes only on request (a full read of every file).
    """
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files")
    if manifest.get("format") != FORMAT_VERSION or not isinstance(files, dict) or not files:
        return None
    for name, info in files.items():
        path = directory / name
        if Path(name).name != name or not path.is_file():
            return None
        if path.stat().st_size != info.get("size"):
            return None
        if verify_hashes and sha256_file(path) != info.get("sha256"):
            return None
    return manifest


def sweep_stale(role_dir: Path, *, max_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Remove ``.tmp-*``/``.old-*`` dirs under ``role_dir`` not modified for ``max_age_s``."""
    removed: list[Path] = []
    try:
        candidates = [p for p in role_dir.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    except OSError:
        return removed
    now = time.time()
    for path in candidates:
        try:
            if not path.is_dir() or now - path.stat().st_mtime < max_age_s:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def entry_size(manifest: Mapping[str, Any]) -> int:
    return sum(int(info["size"]) for info in manifest["files"].values())


@contextmanager
def staging(final: Path) -> Iterator[Path]:
    """Yield a temp dir next to ``final``; on success it becomes ``final`` in one rename."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        if not (tmp / MANIFEST).is_file():
            raise RuntimeError("conversion finished without writing a manifest")
        if final.exists():
            # Another writer won, or a stale entry is being replaced: move it aside first,
            # because rename onto a non-empty directory fails.
            old = Path(tempfile.mkdtemp(prefix=f".old-{final.name}-", dir=final.parent))
            final.rename(old / "entry")
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_manifest(
    directory: Path,
    *,
    role: str,
    source: str,
    revision: str | None,
    precision: str,
    route: str,
    params: Mapping[str, Any],
    quantization: str = "none",
    quantization_files: Mapping[str, str] | None = None,
    quantization_checks: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """Describe every file in ``directory`` (size, sha256) and write manifest.json."""
    files = {
        path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {
        "format": FORMAT_VERSION,
        "role": role,
        "source": source,
        "revision": revision,
        "precision": precision,
        "route": route,
        "params": dict(params),
        # "static-int8" (weights and activations), "weights-int8" or "none" (fp32).
        "quantization": quantization,
        "quantization_files": dict(quantization_files or {}),
        # Static INT8's accuracy against the float model, measured at conversion (quantize.py).
        "quantization_checks": {k: dict(v) for k, v in (quantization_checks or {}).items()},
        "files": files,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
