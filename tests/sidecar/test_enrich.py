"""Enrichment with real models: neighbours, reranking, classification, and the text cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from homeiq_sidecar.cache import TextCache
from homeiq_sidecar.enrich import (
    SKIPPED_RERANK,
    UNAVAILABLE_CLASSIFY,
    UNAVAILABLE_RERANK,
    enrich_patterns,
    pattern_text,
)
from homeiq_sidecar.models import ModelManager
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


def test_pattern_text_drops_daily_counts() -> None:
    assert pattern_text(HABITS[0]) == "light.kitchen turns on around 06:45 on weekdays."
    assert pattern_text({"id": "x", "description": "no counts here"}) == "no counts here"
    assert pattern_text({"id": "only-id"}) == "only-id"


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
