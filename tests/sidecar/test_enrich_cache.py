"""The on-disk text cache, the cosine neighbours and the domain fallback."""

from __future__ import annotations

from pathlib import Path
import sqlite3

import numpy as np
import pytest

from homeiq_sidecar.cache import TextCache, pair_key, text_key
from homeiq_sidecar.domain_rules import category_from_entities, priority_for_category
from homeiq_sidecar.similarity import top_k_by_cosine

CATEGORIES = ("energy", "comfort", "security", "convenience", "maintenance")


def test_embeddings_round_trip_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = TextCache(path)
    vectors = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    cache.put_embeddings("m|int8", ["a", "b", "c"], vectors)
    cache.close()

    cache = TextCache(path)
    got = cache.get_embeddings("m|int8", ["c", "a", "unknown"])
    assert set(got) == {"a", "c"}
    np.testing.assert_array_equal(got["a"], vectors[0])
    np.testing.assert_array_equal(got["c"], vectors[2])
    # Another model or precision never sees these vectors.
    assert cache.get_embeddings("m|fp32", ["a"]) == {}
    cache.close()


def test_texts_are_stored_only_as_hashes(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = TextCache(path)
    cache.put_classifications("clf", {"Kitchen light on at 06:45": {"category": "comfort"}})
    cache.close()
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes()
        if path.with_name(path.name + "-wal").exists()
        else b""
    )
    assert b"Kitchen light" not in raw
    with sqlite3.connect(path) as conn:
        keys = [r[0] for r in conn.execute("SELECT text_key FROM classifications")]
    assert keys == [text_key("Kitchen light on at 06:45")]


def test_pair_scores_are_ordered(tmp_path: Path) -> None:
    cache = TextCache(tmp_path / "c.sqlite3")
    cache.put_pair_scores("rr", {("q", "d"): 0.25})
    assert cache.get_pair_scores("rr", [("q", "d"), ("d", "q")]) == {("q", "d"): 0.25}
    # Length-prefixed: ("ab", "c") and ("a", "bc") are different pairs.
    assert pair_key("ab", "c") != pair_key("a", "bc")
    assert cache.counts() == {"embeddings": 0, "classifications": 0, "pair_scores": 1}
    cache.close()


def test_many_keys_in_one_lookup(tmp_path: Path) -> None:
    # More keys than SQLite allows parameters in one statement.
    cache = TextCache(tmp_path / "c.sqlite3")
    scores = {(f"q{i}", f"d{i}"): float(i) for i in range(2500)}
    cache.put_pair_scores("rr", scores)
    assert cache.get_pair_scores("rr", list(scores)) == scores
    cache.close()


def test_top_k_by_cosine_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(50, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    idx, scores = top_k_by_cosine(vecs, 5)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    expected = np.argsort(-sims, axis=1)[:, :5]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), rtol=1e-6)
    assert not (idx == np.arange(50)[:, None]).any()  # never its own neighbour


@pytest.mark.parametrize("n", [0, 1, 2])
def test_top_k_small_inputs(n: int) -> None:
    vecs = np.eye(max(n, 1), 4, dtype=np.float32)[:n]
    idx, scores = top_k_by_cosine(vecs, 100)
    assert idx.shape == (n, max(n - 1, 0))
    assert scores.shape == idx.shape


def test_domain_rules() -> None:
    assert category_from_entities(["light.kitchen"], CATEGORIES) == "comfort"
    assert category_from_entities(["binary_sensor.door", "lock.front"], CATEGORIES) == "security"
    assert category_from_entities(["sensor.x"], CATEGORIES) == "convenience"
    # A rule's category that is not configured is never returned.
    assert category_from_entities(["lock.front"], ("a", "b")) == "a"
    assert priority_for_category("security", ("high", "medium", "low")) == "high"
    assert priority_for_category("comfort", ("high", "medium", "low")) == "medium"


def test_damaged_cache_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    cache = TextCache(path)  # starts anyway, empty
    assert cache.counts() == {"embeddings": 0, "classifications": 0, "pair_scores": 0}
    cache.put_pair_scores("rr", {("q", "d"): 0.5})
    assert cache.get_pair_scores("rr", [("q", "d")]) == {("q", "d"): 0.5}
    cache.close()
    [aside] = tmp_path.glob("c.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")


def test_schema_change_empties_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    cache = TextCache(path)
    cache.put_pair_scores("rr", {("q", "d"): 0.5})
    cache.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='schema'")
    cache = TextCache(path)
    assert cache.get_pair_scores("rr", [("q", "d")]) == {}
    cache.close()
