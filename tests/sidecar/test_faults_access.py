"""Access to the sidecar: loopback by default, the token compared in constant time (issue 7.4)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import hmac
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
import pytest

from homeiq_sidecar import server
from homeiq_sidecar.server import create_app
from homeiq_sidecar.settings import Settings, SettingsError, parse_settings
from tests.sidecar.server_fixtures import TOKEN

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def test_token_is_compared_in_constant_time(
    aiohttp_client: ClientFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every authenticated request goes through hmac.compare_digest, right or wrong."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        seen.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(server.hmac, "compare_digest", spy)
    client = await aiohttp_client(
        create_app(Settings(data_dir=tmp_path, token=TOKEN, allow_convert=False))
    )
    wrong = "x" * len(TOKEN)
    resp = await client.get("/v1/models", headers={"Authorization": f"Bearer {wrong}"})
    assert resp.status == 401
    body = await resp.text()
    assert TOKEN not in body
    assert wrong not in body
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    resp = await client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200
    assert seen == [(wrong.encode(), TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


async def test_prefix_of_the_token_is_refused(
    aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    """A prefix, the token with extra bytes, another scheme: all 401."""
    client = await aiohttp_client(
        create_app(Settings(data_dir=tmp_path, token=TOKEN, allow_convert=False))
    )
    for header in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, ""):
        resp = await client.get("/v1/models", headers={"Authorization": header})
        assert resp.status == 401, header


def test_loopback_unless_configured(tmp_path: Path) -> None:
    """The default address is loopback; leaving it without a token is refused."""
    settings = parse_settings(["--data-dir", str(tmp_path), "--token", TOKEN], env={})
    assert settings.host == "127.0.0.1"
    with pytest.raises(SettingsError, match="token is required"):
        parse_settings(["--data-dir", str(tmp_path), "--host", "0.0.0.0"], env={})
    with pytest.raises(SettingsError, match="loopback"):
        parse_settings(["--data-dir", str(tmp_path), "--host", "0.0.0.0", "--no-auth"], env={})
