"""ModelManager on tiny models of the real architectures, through the real code (no torch)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import shutil
import threading
import time
from typing import Any

from aiohttp import web
import numpy as np
import pytest

from homeiq_sidecar.errors import ApiError
from homeiq_sidecar.models import (
    DEFAULT_CATEGORIES,
    ROLES,
    ModelLoadingError,
    ModelManager,
    ModelUnavailableError,
    manager as manager_module,
)
from homeiq_sidecar.models.irinfo import ir_is_int8
from homeiq_sidecar.models.runners import _LENGTH_BUCKETS, _bucket
from homeiq_sidecar.models.store import MANIFEST, STALE_TEMP_AGE_S, entry_dir, read_manifest
from homeiq_sidecar.server import MANAGER_KEY, check_model_name
from tests.export.tiny_models import cached_entry, ensure_tiny_models

TEXTS = [
    "the kitchen light turns on at 07:00 on weekdays",
    "the front door locks at 23:00 every night",
    "heating turns off when a window opens",
    "a",
]


@pytest.fixture(scope="session")
def built() -> Path:
    return ensure_tiny_models()


@pytest.fixture
def entries(built: Path) -> dict[str, str]:
    return {
        role: str(cached_entry(built / "cache", role)) for role in ("embed", "rerank", "classify")
    }


async def test_nothing_loads_until_first_use(entries: dict[str, str], tmp_path: Path) -> None:
    manager = ModelManager(cache_dir=tmp_path, models=entries, allow_convert=False)
    assert manager.loaded_roles() == []
    status = manager.status()
    assert set(status) == {"embed", "rerank", "classify"}
    assert all(not s["loaded"] and s["available"] for s in status.values())
    assert status["embed"]["size_bytes"] > 0
    # What identifies the model (the text cache's key) is known from the manifest alone.
    assert all(len(s["fingerprint"]) == 16 for s in status.values())
    assert len({s["fingerprint"] for s in status.values()}) == 3
    await manager.embed(["x"])
    assert manager.loaded_roles() == ["embed"]
    loaded = manager.status()["embed"]
    assert loaded["last_latency_ms"] is not None
    assert (loaded["fingerprint"], loaded["revision"]) == (
        status["embed"]["fingerprint"],
        status["embed"]["revision"],
    )
    await manager.close()


async def test_status_names_the_model_that_answers_next(
    entries: dict[str, str], tmp_path: Path
) -> None:
    """Loaded: the loaded entry. Unloaded: the entry on disk the next load uses, even if it
    was re-converted meanwhile (else results of new weights would go under the old key)."""
    path = tmp_path / "operator-embed"
    shutil.copytree(entries["embed"], path)
    manager = ModelManager(cache_dir=tmp_path / "cache", models={"embed": str(path)})

    def reconvert(revision: str) -> None:
        manifest = json.loads((path / MANIFEST).read_text())
        manifest["files"]["openvino_model.bin"]["sha256"] = "0" * 64  # other weights, same size
        manifest["revision"] = revision
        (path / MANIFEST).write_text(json.dumps(manifest))

    await manager.embed(["x"])
    loaded = manager.status()["embed"]
    reconvert("r2")
    # The running model is still the old one.
    assert manager.status()["embed"]["fingerprint"] == loaded["fingerprint"]
    assert manager.status()["embed"]["revision"] is None
    await manager.close()  # unloads, as the idle reaper does
    assert manager.status()["embed"]["fingerprint"] != loaded["fingerprint"]
    assert manager.status()["embed"]["revision"] == "r2"
    await manager.close()


async def test_embed_is_normalised_and_ignores_padding(
    entries: dict[str, str], tmp_path: Path
) -> None:
    manager = ModelManager(cache_dir=tmp_path, models=entries, allow_convert=False)
    together = await manager.embed(TEXTS)
    assert together.dtype == np.float32
    assert together.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # Masked pooling: a text's vector must not depend on what it was padded next to.
    alone = np.concatenate([await manager.embed([t]) for t in TEXTS])
    assert np.min(np.sum(together * alone, axis=1)) > 0.999
    await manager.close()


async def test_rerank_pads_each_batch_to_its_longest_pair(
    entries: dict[str, str], tmp_path: Path
) -> None:
    manager = ModelManager(cache_dir=tmp_path, models=entries, allow_convert=False)
    # 32 short documents and 8 long ones: two batches with clearly different lengths.
    docs = [f"the light at {i}" for i in range(32)]
    docs += [f"the light {'turns on ' * 30}at {i}" for i in range(8)]
    scores = await manager.rerank("kitchen light", docs)
    assert scores.shape == (40,)
    assert np.all((scores >= 0) & (scores <= 1))
    runner = manager._slots["rerank"].runner
    widths = [w for _, w in runner.last_batch_shapes]
    assert sum(n for n, _ in runner.last_batch_shapes) == 40
    assert len(set(widths)) > 1  # not one fixed length for everything
    single = [runner._tokenize(["kitchen light"], [d])[0].shape[1] for d in docs]
    # Each batch is padded to the length bucket of its own longest pair (a few shapes only,
    # so the CPU plugin does not keep kernels for every length), not to one fixed length.
    assert max(widths) == _bucket(max(single), _LENGTH_BUCKETS)
    assert min(widths) < max(widths)
    # Batched order is restored: the same document alone gets the same score.
    for i in (0, 13, 39):
        alone = await manager.rerank("kitchen light", [docs[i]])
        assert alone[0] == pytest.approx(scores[i], abs=2e-3)
    await manager.close()


async def test_classify_returns_distributions_over_the_given_labels(
    entries: dict[str, str], tmp_path: Path
) -> None:
    manager = ModelManager(cache_dir=tmp_path, models=entries, allow_convert=False)
    results = await manager.classify(TEXTS)
    assert len(results) == len(TEXTS)
    for result in results:
        assert list(result.category_scores) == list(DEFAULT_CATEGORIES)
        assert sum(result.category_scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert result.category == max(result.category_scores, key=result.category_scores.get)
        assert result.category_confidence == result.category_scores[result.category]
        assert list(result.priority_scores) == ["high", "medium", "low"]
        assert sum(result.priority_scores.values()) == pytest.approx(1.0, abs=1e-4)
    custom = await manager.classify(TEXTS[:1], categories=["lighting", "doors"])
    assert set(custom[0].category_scores) == {"lighting", "doors"}
    # Batching does not change a text's answer.
    alone = await manager.classify(TEXTS[1:2])
    assert alone[0].category_scores == pytest.approx(results[1].category_scores, abs=1e-3)
    with pytest.raises(ValueError):
        await manager.classify(["x"], categories=[])
    await manager.close()


async def test_concurrent_callers_share_one_load(
    entries: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = ModelManager(cache_dir=tmp_path, models=entries, allow_convert=False)
    real_load = manager._load_sync
    loads: list[str] = []
    release = threading.Event()

    def counting_load(slot: Any) -> None:
        loads.append(slot.role)
        assert release.wait(30)  # held until every caller is queued behind this load
        real_load(slot)

    monkeypatch.setattr(manager, "_load_sync", counting_load)
    load = asyncio.create_task(manager.ensure_loaded("classify"))
    await asyncio.sleep(0)  # the load now holds the role's lock
    with pytest.raises(ModelLoadingError) as err:
        await manager.ensure_loaded("classify", wait=False)
    assert err.value.retry_after > 0
    assert err.value.code == "model_loading"
    callers = [asyncio.create_task(manager.classify([text])) for text in TEXTS]
    callers += [asyncio.create_task(manager.ensure_loaded("classify")) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)  # each caller runs until it waits for the role's lock
    assert not any(caller.done() for caller in callers)
    assert loads == ["classify"]
    release.set()
    await load
    results = await asyncio.gather(*callers)
    assert [len(result) for result in results[: len(TEXTS)]] == [1] * len(TEXTS)
    # Seven callers, plus later ones on a loaded model: one load.
    await manager.ensure_loaded("classify", wait=False)
    await manager.classify(["c"])
    assert loads == ["classify"]
    await manager.close()


async def test_idle_models_unload_and_reload(entries: dict[str, str], tmp_path: Path) -> None:
    manager = ModelManager(
        cache_dir=tmp_path, models=entries, allow_convert=False, idle_unload_s=0.2
    )
    before = await manager.embed(["the kitchen light"])
    assert manager.loaded_roles() == ["embed"]
    for _ in range(40):
        await asyncio.sleep(0.05)
        if not manager.loaded_roles():
            break
    assert manager.loaded_roles() == []
    after = await manager.embed(["the kitchen light"])
    np.testing.assert_allclose(before, after, atol=1e-6)
    await manager.close()


async def test_over_the_memory_budget_idle_models_unload(
    entries: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the budget, models idle for BUDGET_SETTLE_S unload without the idle timer (and
    come back on the next use); under it they stay."""
    monkeypatch.setattr(manager_module, "BUDGET_SETTLE_S", 0.2)  # 10 s in production

    async def loaded_after_settling(budget_mb: float) -> list[str]:
        manager = ModelManager(
            cache_dir=tmp_path,
            models=entries,
            allow_convert=False,
            idle_unload_s=None,
            memory_budget_mb=budget_mb,
        )
        before = await manager.embed(["the kitchen light"])
        for _ in range(20):
            await asyncio.sleep(0.05)
            if not manager.loaded_roles():
                break
        loaded = manager.loaded_roles()
        np.testing.assert_allclose(before, await manager.embed(["the kitchen light"]), atol=1e-6)
        await manager.close()
        return loaded

    assert await loaded_after_settling(1.0) == []  # any process holds more than 1 MiB
    assert await loaded_after_settling(1e9) == ["embed"]


def test_request_names_are_checked(tmp_path: Path) -> None:
    """What the server checks a request's "model" with: the role, or the configured source."""
    app = web.Application()
    app[MANAGER_KEY] = ModelManager(cache_dir=tmp_path, allow_convert=False)
    for role in ROLES:
        check_model_name(app, role, role)
        check_model_name(app, role, None)  # no name: the role's model
    check_model_name(app, "rerank", "BAAI/bge-reranker-base")  # the configured source
    for bad in ("../x", "/etc/passwd", "embed/../../x", "a\\b", "~root/x", "./embed", "C:x"):
        with pytest.raises(ApiError) as err:
            check_model_name(app, "embed", bad)
        assert (err.value.status, err.value.code) == (400, "invalid_model_name"), bad
    # Not paths, but not this role's model either.
    for other in ("", "rerank", "BAAI/bge-reranker-base", "embed/"):
        with pytest.raises(ApiError) as err:
            check_model_name(app, "embed", other)
        assert (err.value.status, err.value.code) == (404, "unknown_model"), other


async def test_uncached_model_without_conversion_is_unavailable(tmp_path: Path) -> None:
    manager = ModelManager(cache_dir=tmp_path, allow_convert=False)
    with pytest.raises(ModelUnavailableError, match="download-models"):
        await manager.embed(["x"])
    status = manager.status()["embed"]
    assert status["error"]
    assert status["available"] is False
    assert status["source"] == "sentence-transformers/all-MiniLM-L6-v2"
    await manager.close()


async def test_half_written_entry_is_never_loaded(entries: dict[str, str], tmp_path: Path) -> None:
    source = "sentence-transformers/all-MiniLM-L6-v2"
    target = entry_dir(tmp_path, "embed", source, "int8")
    shutil.copytree(entries["embed"], target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["source"] = source
    (target / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(target) is not None
    manager = ModelManager(cache_dir=tmp_path, allow_convert=False)
    await manager.ensure_loaded("embed")  # a complete entry loads from the cache
    await manager.close()
    with (target / "openvino_model.bin").open("r+b") as handle:
        handle.truncate(100)  # as if a copy was cut short
    assert read_manifest(target) is None
    manager = ModelManager(cache_dir=tmp_path, allow_convert=False)
    with pytest.raises(ModelUnavailableError):
        await manager.embed(["x"])
    await manager.close()


async def test_onnx_route_converts_without_torch(built: Path, tmp_path: Path) -> None:
    """Torch-free conversion: ONNX file -> openvino.convert_model -> nncf INT8, in a temp dir."""
    pytest.importorskip("nncf", reason="the torch-free conversion route needs nncf")
    pytest.importorskip("transformers", reason="tokenizer conversion needs transformers")
    onnx = built / "hf" / "embed" / "onnx" / "model.onnx"
    manager = ModelManager(cache_dir=tmp_path, models={"embed": str(onnx)})
    vectors = await manager.embed(TEXTS)
    entry = entry_dir(tmp_path, "embed", str(onnx), "int8")
    manifest = read_manifest(entry, verify_hashes=True)
    assert manifest is not None
    assert manifest["route"] == "onnx"
    assert ir_is_int8(entry / "openvino_model.xml")
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temp left
    # Same weights as the optimum-intel route's entry: same meaning.
    reference = ModelManager(
        cache_dir=tmp_path / "other", models={"embed": str(cached_entry(built / "cache", "embed"))}
    )
    expected = await reference.embed(TEXTS)
    assert np.min(np.sum(vectors * expected, axis=1)) > 0.99
    await manager.close()
    await reference.close()
    # Second start: cache only.
    again = ModelManager(cache_dir=tmp_path, models={"embed": str(onnx)}, allow_convert=False)
    np.testing.assert_allclose(await again.embed(TEXTS), vectors, atol=1e-6)
    await again.close()


async def test_onnx_route_without_nncf_says_what_to_install(built: Path, tmp_path: Path) -> None:
    try:
        import nncf  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("nncf is installed here")
    onnx = built / "hf" / "embed" / "onnx" / "model.onnx"
    manager = ModelManager(cache_dir=tmp_path, models={"embed": str(onnx)})
    with pytest.raises(ModelUnavailableError, match="nncf"):
        await manager.embed(["x"])
    # Checked before any work: no temp dir is left behind.
    assert not (tmp_path / "embed").exists() or not list((tmp_path / "embed").iterdir())
    await manager.close()


async def test_hf_checkpoint_without_torch_or_onnx_is_unavailable(
    built: Path, tmp_path: Path
) -> None:
    pytest.importorskip("openvino")
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("this environment has torch")
    # The built checkpoint carries an ONNX export (the torch-free route): leave it out.
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(built / "hf" / "rerank", checkpoint, ignore=shutil.ignore_patterns("onnx"))
    manager = ModelManager(cache_dir=tmp_path, models={"rerank": str(checkpoint)})
    with pytest.raises(ModelUnavailableError, match="torch"):
        await manager.rerank("q", ["d"])
    assert not (tmp_path / "rerank").exists() or not list((tmp_path / "rerank").iterdir())
    await manager.close()


async def test_load_sweeps_only_stale_conversion_dirs(built: Path, tmp_path: Path) -> None:
    """A killed conversion's temp dir goes; one a live conversion may still write stays."""
    role_dir = tmp_path / "embed"
    stale, live = role_dir / ".tmp-x-int8-killed", role_dir / ".tmp-x-int8-running"
    old_copy = role_dir / ".old-x-int8-abc"
    for path in (stale, live, old_copy):
        path.mkdir(parents=True)
        (path / "openvino_model.bin").write_bytes(b"\0" * 64)
    past = time.time() - STALE_TEMP_AGE_S - 60
    for path in (stale, old_copy):
        os.utime(path, (past, past))
    manager = ModelManager(
        cache_dir=tmp_path, models={"embed": str(cached_entry(built / "cache", "embed"))}
    )
    await manager.embed(["x"])
    await manager.close()
    assert not stale.exists()
    assert not old_copy.exists()
    assert live.exists()
