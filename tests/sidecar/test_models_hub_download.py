"""A hub id converts from a download kept inside the model cache, deleted once converted.

The model hub is the one edge these machines cannot reach: `snapshot_download` is replaced by a
stand-in that lays out the tiny checkpoint the way huggingface_hub does (``models--owner--name/
snapshots/<revision>``) in the cache dir it is given. Everything after it is the real code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
import shutil
from typing import Any

import pytest

from homeiq_sidecar.models import ModelManager
from homeiq_sidecar.models.convert import HUB_DIR
from homeiq_sidecar.models.store import entry_dir, read_manifest
from tests.export.tiny_models import ensure_tiny_models

REPO_ID = "homeiq-test/tiny-embed"
REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Calls to snapshot_download; each copies the tiny embed checkpoint into its cache dir."""
    huggingface_hub = pytest.importorskip("huggingface_hub")
    pytest.importorskip("nncf")
    checkpoint = ensure_tiny_models() / "hf" / "embed"
    calls: list[dict[str, Any]] = []

    def snapshot_download(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        root = Path(kwargs.get("cache_dir") or tmp_path / "operator-hf-cache")
        folder = "models--" + repo_id.replace("/", "--")
        snapshot = root / folder / "snapshots" / REVISION
        shutil.copytree(checkpoint, snapshot, dirs_exist_ok=True)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    for name in ("HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return calls


async def test_download_stays_in_the_model_cache_and_goes(
    fake_hub: list[dict[str, Any]], tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    manager = ModelManager(cache_dir=cache, models={"embed": REPO_ID})
    vectors = await manager.embed(["the kitchen light turns on at 07:00"])
    await manager.close()

    assert vectors.shape[0] == 1
    assert len(fake_hub) == 1
    assert Path(fake_hub[0]["cache_dir"]) == cache / HUB_DIR  # not ~/.cache/huggingface
    entry = entry_dir(cache, "embed", REPO_ID, "int8")
    manifest = read_manifest(entry)
    assert manifest is not None
    assert (manifest["source"], manifest["revision"]) == (REPO_ID, REVISION)
    assert (manifest["role"], manifest["precision"], manifest["route"]) == ("embed", "int8", "onnx")
    # Every file of the entry, with its size and hash (what the loader verifies).
    on_disk = {path.name for path in entry.iterdir() if path.name != "manifest.json"}
    assert set(manifest["files"]) == on_disk
    for name, info in manifest["files"].items():
        assert info["size"] == (entry / name).stat().st_size
        assert info["sha256"] == hashlib.sha256((entry / name).read_bytes()).hexdigest()
    # The source weights went once converted; the hub dir holds no checkpoint any more.
    assert not (cache / HUB_DIR / "models--homeiq-test--tiny-embed").exists()
    assert not (tmp_path / "operator-hf-cache").exists()


async def test_operator_hub_cache_is_used_and_kept(
    fake_hub: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "operator-hf-home"))
    cache = tmp_path / "models"
    manager = ModelManager(cache_dir=cache, models={"embed": REPO_ID})
    await manager.embed(["the porch light turns off at 23:00"])
    await manager.close()

    assert fake_hub[0]["cache_dir"] is None  # huggingface_hub picks HF_HOME itself
    kept = tmp_path / "operator-hf-cache" / "models--homeiq-test--tiny-embed"
    assert (kept / "snapshots" / REVISION / "config.json").is_file()  # not ours to delete
    assert not (cache / HUB_DIR).exists()
