"""Enrichment with real models: neighbours, reranking, classification, and the text cache."""

from __future__ import annotations

from collections.abc import Sequence
import json
from pathlib import Path
import shutil
from typing import Any

import numpy as np
import numpy.typing as npt

from homeiq_sidecar.cache import TextCache
from homeiq_sidecar.enrich import (
    SKIPPED_RERANK,
    UNAVAILABLE_CLASSIFY,
    UNAVAILABLE_RERANK,
    classify_cached,
    enrich_patterns,
    model_key,
)
from homeiq_sidecar.models import ClassifyResult, ModelManager, ModelUnavailableError
from homeiq_sidecar.models.store import MANIFEST, read_manifest, write_manifest
from homeiq_sidecar.pattern_text import pattern_text
from tests.sidecar.server_fixtures import real_minilm_source, tiny_model_sources

CATEGORIES = ("energy", "comfort", "security", "convenience", "maintenance")
PRIORITIES = ("high", "medium", "low")


def pattern(pid: str, description: str, *entities: str) -> dict[str, Any]:
    """A pattern in the miner's shape (only the fields enrichment reads, plus one it keeps)."""
    return {
        "id": pid,
        "type": "time_of_day",
        "description": description,
        "steps": [{"entity_id": e, "state": "on"} for e in entities],
        "confidence": 0.9,
    }


HABITS = [
    pattern("kitchen", "light.kitchen turns on around 06:45 on weekdays (seen on 20 days).", "light.kitchen"),
    pattern("kitchen2", "light.kitchen_counter turns on around 06:50 on weekdays (seen on 18 days).", "light.kitchen_counter"),
    pattern("lock", "lock.front_door becomes locked around 22:30 every day (seen on 28 days).", "lock.front_door"),
    pattern("washer", "switch.dryer turns on about 5 min after switch.washer turns off (9 times on 9 days).", "switch.washer", "switch.dryer"),
    pattern("garden", "switch.sprinkler turns on around 05:30 at weekends (seen on 8 days).", "switch.sprinkler"),
    pattern("heating", "climate.living_room becomes heat around 17:00 every day (seen on 25 days).", "climate.living_room"),
]  # fmt: skip


def manager(tmp_path: Path, models: dict[str, str]) -> ModelManager:
    # Roles not given point at a source that is not cached; conversion is off: unavailable.
    return ModelManager(
        cache_dir=tmp_path / "models", models=models, allow_convert=False, idle_unload_s=None
    )


async def test_real_minilm_ranks_near_duplicate_first(tmp_path: Path) -> None:
    mm = manager(tmp_path, {"embed": real_minilm_source()})
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        result = await enrich_patterns(HABITS, backend=mm, cache=cache)
    finally:
        await mm.close()
        cache.close()
    by_id = {p["id"]: p for p in result.patterns}
    # The kitchen habit's nearest neighbour is the other kitchen light, not the lock or garden.
    assert by_id["kitchen"]["similar"][0]["id"] == "kitchen2"
    assert by_id["kitchen2"]["similar"][0]["id"] == "kitchen"
    scores = [s["score"] for s in by_id["kitchen"]["similar"]]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == len(HABITS) - 1
    # Honest summary: no reranker and no classifier ran.
    assert result.models["embed"].endswith("(int8)")
    assert result.models["rerank"] == UNAVAILABLE_RERANK
    assert result.models["classify"] == UNAVAILABLE_CLASSIFY
    assert by_id["lock"]["category"] == "security"
    assert by_id["lock"]["priority"] == "high"
    assert by_id["heating"]["category"] == "comfort"


async def test_no_embedder_means_no_similar(tmp_path: Path) -> None:
    mm = manager(tmp_path, {})
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        result = await enrich_patterns(HABITS, backend=mm, cache=cache)
    finally:
        await mm.close()
        cache.close()
    assert all(p["similar"] == [] for p in result.patterns)
    assert result.models["embed"].startswith("unavailable")
    assert result.models["rerank"] == SKIPPED_RERANK
    assert mm.loaded_roles() == []


async def test_full_pipeline_and_cache_rerun(tmp_path: Path) -> None:
    sources = tiny_model_sources()
    many = [
        pattern(f"p{i}", f"switch.plug_{i} turns on around {i % 24:02d}:{i % 60:02d} every day.", f"switch.plug_{i}")
        for i in range(30)
    ]  # fmt: skip
    cache_path = tmp_path / "cache.sqlite3"

    mm = manager(tmp_path, sources)
    cache = TextCache(cache_path)
    try:
        first = await enrich_patterns(
            many,
            backend=mm,
            cache=cache,
            categories=CATEGORIES,
            priorities=PRIORITIES,
            top_k=12,
            keep=4,
        )
        assert sorted(mm.loaded_roles()) == ["classify", "embed", "rerank"]
    finally:
        await mm.close()
        cache.close()

    ids = {p["id"] for p in many}
    for p in first.patterns:
        assert 1 <= len(p["similar"]) <= 4
        assert p["id"] not in {s["id"] for s in p["similar"]}
        assert {s["id"] for s in p["similar"]} <= ids
        scores = [s["score"] for s in p["similar"]]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)  # reranker relevance, not cosine
        assert p["category"] in CATEGORIES
        assert p["priority"] in PRIORITIES
    for role in ("embed", "rerank", "classify"):
        assert first.models[role] == f"{sources[role]} (int8)"
    assert first.cache["embed"] == {"cached": 0, "computed": 30}
    assert first.cache["rerank"] == {"cached": 0, "computed": 30 * 12}
    assert first.cache["classify"] == {"cached": 0, "computed": 30}

    # A re-run over the same habits: every result from disk, no model even loaded.
    mm = manager(tmp_path, sources)
    cache = TextCache(cache_path)
    try:
        second = await enrich_patterns(
            many,
            backend=mm,
            cache=cache,
            categories=CATEGORIES,
            priorities=PRIORITIES,
            top_k=12,
            keep=4,
        )
        assert mm.loaded_roles() == []
    finally:
        await mm.close()
        cache.close()
    assert second.patterns == first.patterns
    assert second.cache["embed"] == {"cached": 30, "computed": 0}
    assert second.cache["rerank"] == {"cached": 30 * 12, "computed": 0}
    assert second.cache["classify"] == {"cached": 30, "computed": 0}

    # One changed habit: only its own texts and pairs are computed again.
    changed = [dict(p) for p in many]
    changed[0]["description"] = "light.porch turns on around 19:00 every day."
    mm = manager(tmp_path, sources)
    cache = TextCache(cache_path)
    try:
        third = await enrich_patterns(
            changed,
            backend=mm,
            cache=cache,
            categories=CATEGORIES,
            priorities=PRIORITIES,
            top_k=12,
            keep=4,
        )
    finally:
        await mm.close()
        cache.close()
    assert third.cache["embed"] == {"cached": 29, "computed": 1}
    assert third.cache["classify"] == {"cached": 29, "computed": 1}
    assert 12 <= third.cache["rerank"]["computed"] < 30 * 12 // 2


async def test_other_labels_are_not_served_from_cache(tmp_path: Path) -> None:
    sources = tiny_model_sources()
    mm = manager(tmp_path, sources)
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        await enrich_patterns(HABITS, backend=mm, cache=cache)
        other = await enrich_patterns(
            HABITS,
            backend=mm,
            cache=cache,
            categories=("indoor", "outdoor"),
            priorities=("now", "later"),
        )
    finally:
        await mm.close()
        cache.close()
    assert other.cache["classify"] == {"cached": 0, "computed": len(HABITS)}
    assert {p["category"] for p in other.patterns} <= {"indoor", "outdoor"}
    assert {p["priority"] for p in other.patterns} <= {"now", "later"}


def test_embeddings_from_cache_equal_fresh(tmp_path: Path) -> None:
    # Stored float32 bytes come back bit for bit (no precision lost between runs).
    cache = TextCache(tmp_path / "c.sqlite3")
    vec = np.linspace(-1, 1, 384, dtype=np.float32)[None, :]
    cache.put_embeddings("m", ["t"], vec)
    assert cache.get_embeddings("m", ["t"])["t"].tobytes() == vec[0].tobytes()
    cache.close()


def reconvert(entry: Path) -> None:
    """What a re-conversion to other weights at the same path leaves: a weights file with other
    bytes and a manifest rewritten by the converter's own write_manifest (other hash, size).

    Trailing bytes are never read by the IR (it reads weights at the offsets the .xml gives),
    so the model still loads; only the recorded content differs.
    """
    old = json.loads((entry / MANIFEST).read_text())
    (entry / MANIFEST).unlink()
    weights = sorted(name for name in old["files"] if name.endswith("model.bin"))[0]
    with (entry / weights).open("ab") as handle:
        handle.write(b"\0" * 64)
    write_manifest(
        entry,
        role=old["role"],
        source=old["source"],
        revision=old["revision"],
        precision=old["precision"],
        route=old["route"],
        params=old["params"],
        quantization=old["quantization"],
        quantization_files=old["quantization_files"],
    )
    new = read_manifest(entry, verify_hashes=True)
    assert new is not None
    assert new["files"][weights]["sha256"] != old["files"][weights]["sha256"]


async def test_new_weights_at_the_same_path_are_not_served_from_cache(tmp_path: Path) -> None:
    """Each role's results are keyed by the converted files' fingerprint, not by the path alone:
    another entry at the same path gets fresh results; the same entry gets the cached ones."""
    sources = {}
    for role, entry in tiny_model_sources().items():
        sources[role] = str(tmp_path / "operator" / role)  # the path the operator configured
        shutil.copytree(entry, sources[role])
    cache_path = tmp_path / "cache.sqlite3"

    async def run() -> tuple[Any, list[str], dict[str, Any]]:
        mm = manager(tmp_path, sources)
        cache = TextCache(cache_path)
        try:
            status = mm.status()  # what the cache key is made of, known before any load
            result = await enrich_patterns(HABITS, backend=mm, cache=cache, top_k=3, keep=3)
            return result, mm.loaded_roles(), status
        finally:
            await mm.close()
            cache.close()

    n, pairs = len(HABITS), len(HABITS) * 3
    first, _, before = await run()
    assert all(before[role]["fingerprint"] for role in sources)
    assert first.cache == {
        "embed": {"cached": 0, "computed": n},
        "rerank": {"cached": 0, "computed": pairs},
        "classify": {"cached": 0, "computed": n},
    }
    # The same entries: everything from the cache, no model loaded.
    again, loaded, _ = await run()
    assert loaded == []
    assert again.cache == {
        "embed": {"cached": n, "computed": 0},
        "rerank": {"cached": pairs, "computed": 0},
        "classify": {"cached": n, "computed": 0},
    }
    assert again.patterns == first.patterns

    # The operator re-converts every model in place: nothing old may be served.
    for path in sources.values():
        reconvert(Path(path))
    changed, loaded, after = await run()
    assert all(after[role]["fingerprint"] != before[role]["fingerprint"] for role in sources)
    assert sorted(loaded) == ["classify", "embed", "rerank"]
    assert changed.cache == first.cache


async def test_another_model_at_the_same_path_gets_its_own_embeddings(tmp_path: Path) -> None:
    """Stale vectors would even have the wrong size: the tiny model's are 32-d, MiniLM's 384-d."""
    path = tmp_path / "embedder"
    shutil.copytree(tiny_model_sources()["embed"], path)
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        mm = manager(tmp_path, {"embed": str(path)})
        tiny_key = model_key(mm, "embed")
        await enrich_patterns(HABITS, backend=mm, cache=cache)
        await mm.close()
        assert (
            len(cache.get_embeddings(str(tiny_key), [pattern_text(HABITS[0])]).popitem()[1]) == 32
        )

        shutil.rmtree(path)
        shutil.copytree(real_minilm_source(), path)
        mm = manager(tmp_path, {"embed": str(path)})
        assert model_key(mm, "embed") != tiny_key
        result = await enrich_patterns(HABITS, backend=mm, cache=cache)
        await mm.close()
    finally:
        cache.close()
    assert result.cache["embed"] == {"cached": 0, "computed": len(HABITS)}
    by_id = {p["id"]: p for p in result.patterns}
    assert by_id["kitchen"]["similar"][0]["id"] == "kitchen2"  # MiniLM's neighbours, not tiny's


class UnconvertedEmbedder:
    """An embed backend whose model is converted by its first call, as a fresh hub model is:
    until then it cannot say which files will answer (fingerprint None)."""

    def __init__(self, *, converted: bool = False) -> None:
        self.fingerprint = "f1" if converted else None
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.fingerprint = "f1"
        return np.tile(np.eye(1, 4, dtype=np.float32), (len(texts), 1))

    async def rerank(self, query: str, documents: Sequence[str]) -> npt.NDArray[np.float32]:
        raise ModelUnavailableError("no reranker")

    async def classify(
        self, texts: Sequence[str], *, categories: Sequence[str], priorities: Sequence[str]
    ) -> list[ClassifyResult]:
        raise ModelUnavailableError("no classifier")

    def status(self) -> dict[str, dict[str, Any]]:
        info = {"source": "org/model", "precision": "int8", "revision": None}
        return {"embed": {**info, "fingerprint": self.fingerprint}}


async def test_results_of_an_unknown_model_are_never_read(tmp_path: Path) -> None:
    """Before its first conversion a model's identity is unknown: the cache is not read (the
    source alone names no particular weights), and results go under the key known after."""
    texts = [pattern_text(p) for p in HABITS]
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        # Left by some earlier model of the same source, keyed without a fingerprint.
        stale = np.tile(np.eye(1, 4, 3, dtype=np.float32), (len(texts), 1))
        cache.put_embeddings("org/model|int8", texts, stale)
        fresh = UnconvertedEmbedder()
        assert model_key(fresh, "embed") is None
        first = await enrich_patterns(HABITS, backend=fresh, cache=cache)
        assert fresh.calls == 1
        assert first.cache["embed"] == {"cached": 0, "computed": len(texts)}
        # Next run: the model is converted, its results were stored under its key.
        converted = UnconvertedEmbedder(converted=True)
        second = await enrich_patterns(HABITS, backend=converted, cache=cache)
        assert converted.calls == 0
        assert second.cache["embed"] == {"cached": len(texts), "computed": 0}
        assert second.patterns == first.patterns
    finally:
        cache.close()


async def test_label_lists_are_keyed_unambiguously(tmp_path: Path) -> None:
    """["a,b", "c"] and ["a", "b,c"] are other questions: never each other's cached answers."""
    mm = manager(tmp_path, {"classify": tiny_model_sources()["classify"]})
    cache = TextCache(tmp_path / "cache.sqlite3")
    try:
        texts = [pattern_text(p) for p in HABITS[:2]]
        first = await classify_cached(
            mm, cache, texts, categories=["a,b", "c"], priorities=["high", "low"]
        )
        second = await classify_cached(
            mm, cache, texts, categories=["a", "b,c"], priorities=["high", "low"]
        )
    finally:
        await mm.close()
        cache.close()
    assert set(first[0]["category"]["scores"]) == {"a,b", "c"}
    assert set(second[0]["category"]["scores"]) == {"a", "b,c"}
