"""The model routes and /v1/analyze with real (tiny, converted) models in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
import shutil
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
import numpy as np
import pytest

from homeiq_sidecar.enrich import UNAVAILABLE_CLASSIFY
from homeiq_sidecar.server import MANAGER_KEY, create_app
from homeiq_sidecar.settings import Settings
from tests.sidecar.server_fixtures import TIME_ZONE, TOKEN, planted_home, tiny_model_sources

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(aiohttp_client: ClientFactory, tmp_path: Path) -> TestClient[Any, Any]:
    settings = Settings(
        data_dir=tmp_path / "data",
        token=TOKEN,
        models=tiny_model_sources(),
        allow_convert=False,
        idle_unload_s=None,
    )
    return await aiohttp_client(create_app(settings))


async def test_embed_rerank_classify(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/v1/embed", json={"texts": ["a light", "a lock"]}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    vectors = np.array(body["embeddings"])
    assert vectors.shape == (2, body["dim"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

    docs = ["kitchen light", "front door lock", "sprinkler"]
    resp = await client.post("/v1/rerank", json={"query": "light", "documents": docs}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    scores = (await resp.json())["scores"]
    assert len(scores) == 3
    assert all(0.0 <= s <= 1.0 for s in scores)

    resp = await client.post(
        "/v1/classify",
        json={"texts": ["kitchen light on at 7"], "categories": ["indoor", "outdoor"]},
        headers=AUTH,
    )
    assert resp.status == 200, await resp.text()
    [result] = (await resp.json())["results"]
    assert result["category"]["label"] in {"indoor", "outdoor"}
    assert set(result["category"]["scores"]) == {"indoor", "outdoor"}
    assert result["category"]["label"] == max(
        result["category"]["scores"], key=result["category"]["scores"].get
    )
    assert set(result["priority"]["scores"]) == {"high", "medium", "low"}

    resp = await client.get("/v1/models", headers=AUTH)
    models = (await resp.json())["models"]
    for role in ("embed", "rerank", "classify"):
        assert models[role]["loaded"] is True
        assert models[role]["last_latency_ms"] is not None
        assert models[role]["size_bytes"] > 0
    # The tiny entries' quantization (tests/sidecar/test_models_int8.py checks the IRs).
    assert models["rerank"]["quantization"] == "static-int8"
    assert set(models["rerank"]["quantization_checks"]["openvino_model"]) == {"rank_agreement"}
    assert models["classify"]["quantization"] == "weights-int8"
    assert models["classify"]["quantization_checks"] == {}
    health = await (await client.get("/health")).json()
    assert sorted(health["models_loaded"]) == ["classify", "embed", "rerank"]


async def test_model_named_by_role_or_hub_id(
    client: TestClient[Any, Any], aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    resp = await client.post("/v1/embed", json={"texts": ["x"], "model": "embed"}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    # A configured local path is still a path: requests never name files.
    source = tiny_model_sources()["embed"]
    resp = await client.post("/v1/embed", json={"texts": ["x"], "model": source}, headers=AUTH)
    assert (await resp.json())["error"]["code"] == "invalid_model_name"

    # A configured hub id may be named (here it is not cached, so it is honestly unavailable).
    settings = Settings(
        data_dir=tmp_path / "other",
        token=TOKEN,
        models={"embed": "someorg/tiny-embed"},
        allow_convert=False,
    )
    other = await aiohttp_client(create_app(settings))
    resp = await other.post(
        "/v1/embed", json={"texts": ["x"], "model": "someorg/tiny-embed"}, headers=AUTH
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (503, "model_unavailable")
    resp = await other.post(
        "/v1/embed", json={"texts": ["x"], "model": "someorg/other"}, headers=AUTH
    )
    assert (resp.status, (await resp.json())["error"]["code"]) == (404, "unknown_model")


async def test_503_with_retry_after_while_loading(client: TestClient[Any, Any]) -> None:
    # Two requests at once on a cold model: one loads it, the other is told to come back.
    first, second = await asyncio.gather(
        client.post("/v1/embed", json={"texts": ["a"]}, headers=AUTH),
        client.post("/v1/embed", json={"texts": ["b"]}, headers=AUTH),
    )
    statuses = sorted([first.status, second.status])
    assert statuses == [200, 503], statuses
    busy = first if first.status == 503 else second
    assert int(busy.headers["Retry-After"]) >= 1
    assert (await busy.json())["error"]["code"] == "model_loading"


async def test_analyze_planted_home(client: TestClient[Any, Any]) -> None:
    rows = planted_home()
    resp = await client.post(
        "/v1/analyze",
        json={"events": rows, "time_zone": TIME_ZONE, "options": {"similar": 3}},
        headers=AUTH,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    patterns = body["patterns"]
    ids = {p["id"] for p in patterns}
    kitchen = [
        p
        for p in patterns
        if [s["entity_id"] for s in p["steps"]] == ["light.kitchen"]
        and p["steps"][0]["state"] == "on"
    ]
    assert kitchen, [p["description"] for p in patterns]
    habit = kitchen[0]
    assert habit["time"].startswith("06:4")
    assert habit["category"] in {"energy", "comfort", "security", "convenience", "maintenance"}
    assert habit["priority"] in {"high", "medium", "low"}
    assert 1 <= len(habit["similar"]) <= 3
    assert {s["id"] for s in habit["similar"]} <= ids - {habit["id"]}
    summary = body["summary"]
    sources = tiny_model_sources()
    assert summary["models"] == {role: f"{sources[role]} (int8)" for role in sources}
    assert summary["events"] == len(rows)
    assert summary["cache"]["embed"]["computed"] == len(patterns)

    # The same home again: everything from the text cache, the patterns unchanged.
    manager = client.app[MANAGER_KEY]
    before = {role: info["last_latency_ms"] for role, info in manager.status().items()}
    again = await (
        await client.post(
            "/v1/analyze",
            json={"events": rows, "time_zone": TIME_ZONE, "options": {"similar": 3}},
            headers=AUTH,
        )
    ).json()
    assert again["patterns"] == patterns
    assert all(c["computed"] == 0 for c in again["summary"]["cache"].values())
    after = {role: info["last_latency_ms"] for role, info in manager.status().items()}
    assert after == before  # no model ran


async def test_broken_classifier_falls_back_honestly(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    sources = tiny_model_sources()
    broken = tmp_path / "broken-classify"
    shutil.copytree(sources["classify"], broken)
    for xml in broken.glob("openvino_*model.xml"):
        # Same size, so the manifest's cheap size check passes and only the load fails.
        xml.write_bytes(b"x" * xml.stat().st_size)
    settings = Settings(
        data_dir=tmp_path / "data",
        token=TOKEN,
        models={**sources, "classify": str(broken)},
        allow_convert=False,
        idle_unload_s=None,
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.post(
        "/v1/analyze", json={"events": planted_home(), "time_zone": TIME_ZONE}, headers=AUTH
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["summary"]["models"]["classify"] == UNAVAILABLE_CLASSIFY
    assert body["summary"]["models"]["embed"] == f"{sources['embed']} (int8)"
    locks = [p for p in body["patterns"] if p["steps"][0]["entity_id"] == "lock.front_door"]
    assert locks
    assert {p["category"] for p in locks} == {"security"}
    assert all("category_confidence" not in p for p in body["patterns"])
    models = (await (await client.get("/v1/models", headers=AUTH)).json())["models"]
    assert models["classify"]["error"]


async def test_over_the_memory_budget_an_analysis_gives_its_models_back(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """Analyses back to back leave no model idle long enough for the budget's idle check, so
    the end of an analysis unloads the models while the process is over the budget (any
    process is over 1 MiB); under it, they stay loaded for the next request."""
    body = {"events": planted_home(), "time_zone": TIME_ZONE}
    loaded: dict[float, set[str]] = {}
    for budget in (1.0, 1e9):
        settings = Settings(
            data_dir=tmp_path / f"data-{budget}",
            token=TOKEN,
            models=tiny_model_sources(),
            allow_convert=False,
            idle_unload_s=None,
            memory_budget_mb=budget,
        )
        client = await aiohttp_client(create_app(settings))
        resp = await client.post("/v1/analyze", json=body, headers=AUTH)
        assert resp.status == 200, await resp.text()
        assert set((await resp.json())["summary"]["cache"]) == {"embed", "rerank", "classify"}
        loaded[budget] = set((await (await client.get("/health")).json())["models_loaded"])
    assert loaded == {1.0: set(), 1e9: {"embed", "rerank", "classify"}}
