"""The app in-process (aiohttp test client): auth, limits, errors, queue, analyze fallbacks.

The ModelManager is the real one over an empty cache with conversion off, so every model is
honestly unavailable here; the routes that need models are tested in test_server_models.py.
One test runs a real sidecar process instead, to see what it writes outside its data dir.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
import json
from pathlib import Path
import signal
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
import pytest

from homeiq_miner import Location
from homeiq_miner.synth import sunset_home
from homeiq_sidecar import __version__
from homeiq_sidecar.enrich import SKIPPED_RERANK, UNAVAILABLE_CLASSIFY
from homeiq_sidecar.server import QUEUE_KEY, create_app
from homeiq_sidecar.settings import Settings
from tests.sidecar.server_fixtures import (
    TIME_ZONE,
    TOKEN,
    big_home,
    planted_home,
    post_json,
    run_sidecar,
    sidecar_env,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", token=TOKEN, allow_convert=False, max_queue=0)


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


def entities(pattern: dict[str, Any]) -> list[str]:
    return [step["entity_id"] for step in pattern["steps"]]


async def error_of(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    return dict(body["error"])


async def test_health_needs_no_token(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "version": __version__, "models_loaded": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("POST", "/v1/embed"),
        ("POST", "/v1/rerank"),
        ("POST", "/v1/classify"),
        ("POST", "/v1/analyze"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
async def test_token_required(
    client: TestClient[Any, Any], method: str, path: str, headers: dict[str, str]
) -> None:
    resp = await client.request(method, path, headers=headers, json={"texts": ["x"]})
    error = await error_of(resp, 401)
    assert error["code"] == "unauthorized"
    assert TOKEN not in error["message"]
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_models_lists_three_roles(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/v1/models", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert set(body["models"]) == {"embed", "rerank", "classify"}
    for info in body["models"].values():
        assert info["loaded"] is False
        assert info["precision"] == "int8"
        assert info["source"]


async def test_unknown_route_and_method_are_json(client: TestClient[Any, Any]) -> None:
    error = await error_of(await client.get("/v1/nothing", headers=AUTH), 404)
    assert error["code"] == "not_found"
    error = await error_of(await client.get("/v1/embed", headers=AUTH), 405)
    assert error["code"] == "method_not_allowed"


async def test_small_routes_refuse_more_than_one_mib(client: TestClient[Any, Any]) -> None:
    big = json.dumps({"texts": ["x" * 1000] * 1100})  # ~1.1 MiB
    for path in ("/v1/embed", "/v1/rerank", "/v1/classify"):
        resp = await client.post(path, data=big, headers=AUTH)
        assert (await error_of(resp, 413))["code"] == "body_too_large"


async def test_analyze_takes_more_than_one_mib(client: TestClient[Any, Any]) -> None:
    rows = planted_home() * 1  # real rows, then padded by whitespace past 1 MiB
    body = json.dumps({"events": rows, "time_zone": TIME_ZONE}) + " " * (1024 * 1024)
    resp = await client.post("/v1/analyze", data=body, headers=AUTH)
    assert resp.status == 200, await resp.text()


async def test_chunked_body_over_limit(client: TestClient[Any, Any]) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 65536

    resp = await client.post("/v1/embed", data=chunks(), headers=AUTH)
    assert (await error_of(resp, 413))["code"] == "body_too_large"


@pytest.mark.parametrize(
    ("path", "body", "code", "fragment"),
    [
        ("/v1/embed", b"{not json", "invalid_json", "JSON"),
        ("/v1/embed", b"[1, 2]", "invalid_request", "object"),
        ("/v1/embed", b'{"texts": []}', "invalid_request", "texts"),
        ("/v1/embed", b'{"texts": [3]}', "invalid_request", "texts[0]"),
        ("/v1/embed", b'{"texts": ["a"], "extra": 1}', "invalid_request", "extra"),
        ("/v1/rerank", b'{"query": "q"}', "invalid_request", "documents"),
        (
            "/v1/classify",
            b'{"texts": ["a"], "categories": ["x", "x"]}',
            "invalid_request",
            "unique",
        ),
        ("/v1/analyze", b'{"events": "x"}', "invalid_request", "events"),
        (
            "/v1/analyze",
            b'{"events": [[1, "light.a", "on"], [2, "nodot", "on"]]}',
            "invalid_request",
            "events[1]",
        ),
        (
            "/v1/analyze",
            b'{"events": [], "time_zone": "Mars/Olympus"}',
            "invalid_request",
            "time zone",
        ),
        (
            "/v1/analyze",
            b'{"events": [], "options": {"max_patterns": 0}}',
            "invalid_request",
            "max_patterns",
        ),
        (
            "/v1/analyze",
            b'{"events": [], "restarts": {"started": [NaN]}}',
            "invalid_request",
            "restarts",
        ),
        (
            "/v1/analyze",
            b'{"events": [], "groups": {"light.hall": "light.lamp"}}',
            "invalid_request",
            "groups",
        ),
        (
            "/v1/analyze",
            b'{"events": [], "location": {"latitude": 91, "longitude": 4.9}}',
            "invalid_request",
            "latitude",
        ),
    ],
)
async def test_bad_requests(
    client: TestClient[Any, Any], path: str, body: bytes, code: str, fragment: str
) -> None:
    error = await error_of(await client.post(path, data=body, headers=AUTH), 400)
    assert error["code"] == code
    assert fragment in error["message"]


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../../etc/passwd", "~/models", "C:\\models", "a/../../b", "./x"]
)
async def test_path_like_model_names_refused(
    client: TestClient[Any, Any], settings: Settings, name: str
) -> None:
    error = await error_of(
        await client.post("/v1/embed", json={"texts": ["a"], "model": name}, headers=AUTH), 400
    )
    assert error["code"] == "invalid_model_name"


async def test_unknown_model_name(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/v1/embed", json={"texts": ["a"], "model": "someone/else"}, headers=AUTH
    )
    assert (await error_of(resp, 404))["code"] == "unknown_model"


def test_unavailable_model_is_503_without_retry(tmp_path: Path) -> None:
    """A model that is not converted, with conversion off: 503 at once, nothing fetched.

    A real sidecar process, started with its home, caches, temp dir and working directory all
    fresh and empty, so a write anywhere but the data dir shows. (In-process, a library that
    another test imported first may already have fixed its cache paths from the real home.)
    """
    outside = {name: tmp_path / name for name in ("home", "xdg-cache", "hf-home", "tmp", "cwd")}
    for folder in outside.values():
        folder.mkdir()
    env = sidecar_env(
        {
            "HOME": str(outside["home"]),
            "XDG_CACHE_HOME": str(outside["xdg-cache"]),
            "HF_HOME": str(outside["hf-home"]),
            "TMPDIR": str(outside["tmp"]),
        }
    )
    data_dir = tmp_path / "data"
    # No model flags: the default hub models, none of them in the empty cache.
    args = ["--port", "0", "--data-dir", str(data_dir), "--token", TOKEN, "--no-convert"]
    requests = {
        "/v1/embed": {"texts": ["a"], "model": "embed"},
        "/v1/rerank": {"query": "a", "documents": ["b"]},
        "/v1/classify": {"texts": ["a"]},
    }
    with run_sidecar(args, env=env, cwd=outside["cwd"]) as sidecar:
        for route, body in requests.items():
            status, headers, reply = post_json(sidecar.url + route, body)
            assert status == 503, (route, reply)
            assert set(reply["error"]) == {"code", "message"}
            assert reply["error"]["code"] == "model_unavailable"
            assert "Retry-After" not in headers
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(timeout=20) == 0, sidecar.stderr()[-3000:]
    # Nothing was written outside the data dir, and no model appeared inside it.
    written = {name: sorted(p.name for p in folder.rglob("*")) for name, folder in outside.items()}
    assert written == {name: [] for name in outside}
    assert data_dir.is_dir()  # the process did write where it should
    assert not any(p.suffix in {".xml", ".bin"} for p in data_dir.rglob("*"))


async def test_analyze_falls_back_honestly(client: TestClient[Any, Any]) -> None:
    rows = planted_home()
    resp = await client.post(
        "/v1/analyze", json={"events": rows, "time_zone": TIME_ZONE}, headers=AUTH
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    summary = body["summary"]
    assert summary["events"] == len(rows)
    assert summary["patterns"] == len(body["patterns"]) > 0
    assert summary["models"]["embed"].startswith("unavailable")
    assert summary["models"]["rerank"] == SKIPPED_RERANK
    assert summary["models"]["classify"] == UNAVAILABLE_CLASSIFY
    kitchen = [p for p in body["patterns"] if entities(p) == ["light.kitchen"]]
    assert kitchen, [p.get("description") for p in body["patterns"]]
    assert kitchen[0]["category"] == "comfort"  # from the light domain
    assert kitchen[0]["priority"] == "medium"
    for pattern in body["patterns"]:
        assert pattern["similar"] == []
        assert pattern["category"] in {
            "energy",
            "comfort",
            "security",
            "convenience",
            "maintenance",
        }
    locks = [p for p in body["patterns"] if "lock.front_door" in entities(p)]
    assert locks
    assert {p["category"] for p in locks} == {"security"}


async def test_analyze_uses_friendly_names(client: TestClient[Any, Any]) -> None:
    rows = planted_home()
    names = {"light.kitchen": "Kitchen ceiling"}
    resp = await client.post(
        "/v1/analyze",
        json={"events": rows, "time_zone": TIME_ZONE, "names": names},
        headers=AUTH,
    )
    assert resp.status == 200, await resp.text()
    kitchen = [p for p in (await resp.json())["patterns"] if entities(p) == ["light.kitchen"]]
    assert kitchen
    assert kitchen[0]["description"].startswith("Kitchen ceiling ")
    assert kitchen[0]["steps"][0]["entity_id"] == "light.kitchen"
    # A names map that is not strings to strings is refused, not ignored.
    resp = await client.post(
        "/v1/analyze", json={"events": rows, "names": {"light.kitchen": 3}}, headers=AUTH
    )
    assert resp.status == 400


async def test_analyze_leaves_start_ups_out(client: TestClient[Any, Any]) -> None:
    """Rows written while Home Assistant starts are no changes: a start-up at every morning's
    kitchen light takes that habit away, and only it."""
    rows = planted_home()
    mornings = [r[0] for r in rows if r[1] == "light.kitchen" and r[2] == "on"]
    restarts = {"recorder_starts": [t - 2 for t in mornings], "started": [t - 1 for t in mornings]}
    found = {}
    for extra in ({}, {"restarts": restarts}):
        resp = await client.post(
            "/v1/analyze", json={"events": rows, "time_zone": TIME_ZONE, **extra}, headers=AUTH
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        found[bool(extra)] = {
            tuple((s["entity_id"], s["state"]) for s in p["steps"]) for p in body["patterns"]
        }
    assert body["summary"]["miner"]["startup_rows"] >= len(mornings)
    assert (("light.kitchen", "on"),) in found[False]
    assert (("light.kitchen", "on"),) not in found[True]
    assert (("lock.front_door", "locked"),) in found[True]


async def test_analyze_follows_the_sun_where_the_home_is(client: TestClient[Any, Any]) -> None:
    """With the home's location, a porch light that goes on after sunset is a sun habit with
    HA's sun trigger; without it, the same rows give no sun habit."""
    zone = "Europe/Amsterdam"
    where = {"latitude": 52.37, "longitude": 4.89}
    rows = [
        [e.ts, e.entity_id, e.state]
        for e in sunset_home(Location(**where), time_zone=zone, start=date(2024, 9, 1))
    ]
    suns = {}
    for extra in ({}, {"location": where}):
        resp = await client.post(
            "/v1/analyze", json={"events": rows, "time_zone": zone, **extra}, headers=AUTH
        )
        assert resp.status == 200, await resp.text()
        suns[bool(extra)] = [
            (p["steps"][0]["entity_id"], p["sun"]["event"], p["suggestion"]["triggers"][0])
            for p in (await resp.json())["patterns"]
            if p.get("sun")
        ]
    assert suns[False] == []
    ((entity, event, trigger),) = suns[True]
    assert (entity, event) == ("light.porch", "sunset")
    assert trigger["trigger"] == "sun"


async def test_analyze_empty_home(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/v1/analyze", json={"events": []}, headers=AUTH)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["patterns"] == []
    assert body["summary"]["events"] == 0


async def test_health_answers_during_analysis_and_queue_refuses(
    client: TestClient[Any, Any],
) -> None:
    rows = big_home(300_000)
    body = json.dumps({"events": rows})
    analysis = asyncio.create_task(client.post("/v1/analyze", data=body, headers=AUTH))
    queue = client.app[QUEUE_KEY]
    deadline = time.monotonic() + 30
    while queue.running == 0 and not analysis.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert queue.running == 1, "the analysis never took its slot"

    started = time.monotonic()
    resp = await client.get("/health")
    assert resp.status == 200
    assert time.monotonic() - started < 1.0
    # max_queue=0: while one job runs, the next is refused at once.
    refused = await asyncio.wait_for(
        client.post("/v1/analyze", json={"events": []}, headers=AUTH), timeout=5
    )
    error = await error_of(refused, 429)
    assert error["code"] == "queue_full"
    assert refused.headers["Retry-After"]
    assert not analysis.done(), "analysis finished too soon to prove anything; use more events"
    resp = await analysis
    assert resp.status == 200, await resp.text()


async def test_no_auth_mode_needs_no_token(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, token=None, no_auth=True, allow_convert=False)
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/v1/models")
    assert resp.status == 200


async def test_text_cache_lives_in_the_data_dir(
    client: TestClient[Any, Any], settings: Settings
) -> None:
    await client.post("/v1/analyze", json={"events": planted_home()}, headers=AUTH)
    assert settings.text_cache_path.is_file()
    assert settings.text_cache_path.is_relative_to(settings.data_dir)
