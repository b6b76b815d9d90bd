"""Talk to a running Home Assistant the way its frontend does: onboarding, REST, websocket."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count
from typing import Any

import aiohttp


class HAError(Exception):
    """Home Assistant answered with an error."""


async def onboard(
    session: aiohttp.ClientSession, base: str, *, username: str, password: str
) -> str:
    """Finish onboarding with one admin user; return an access token for it."""
    client_id = f"{base}/"
    async with session.post(
        f"{base}/api/onboarding/users",
        json={
            "client_id": client_id,
            "name": "HomeIQ Demo",
            "username": username,
            "password": password,
            "language": "en",
        },
    ) as resp:
        if resp.status != 200:
            raise HAError(f"onboarding user: HTTP {resp.status}: {await resp.text()}")
        auth_code = (await resp.json())["auth_code"]
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "authorization_code", "code": auth_code, "client_id": client_id},
    ) as resp:
        if resp.status != 200:
            raise HAError(f"auth token: HTTP {resp.status}: {await resp.text()}")
        token: str = (await resp.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("integration", {"client_id": client_id, "redirect_uri": f"{base}/?auth_callback=1"}),
    ):
        async with session.post(
            f"{base}/api/onboarding/{step}", json=body, headers=headers
        ) as resp:
            if resp.status not in (200, 403):  # 403: step already done
                raise HAError(f"onboarding {step}: HTTP {resp.status}: {await resp.text()}")
    return token


class WebSocket:
    """A minimal authenticated Home Assistant websocket client."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self._session = session
        self._url = base.replace("http", "ws", 1) + "/api/websocket"
        self._token = token
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = count(1)

    async def __aenter__(self) -> WebSocket:
        self._ws = await self._session.ws_connect(self._url)
        await self._ws.receive_json()  # auth_required
        await self._ws.send_json({"type": "auth", "access_token": self._token})
        msg = await self._ws.receive_json()
        if msg.get("type") != "auth_ok":
            raise HAError(f"websocket auth failed: {msg}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def call(self, message: Mapping[str, Any]) -> Any:
        """Send one command and return its result."""
        assert self._ws is not None
        msg_id = next(self._ids)
        await self._ws.send_json({"id": msg_id, **message})
        while True:
            msg = await self._ws.receive_json()
            if msg.get("id") == msg_id and msg.get("type") == "result":
                if not msg.get("success"):
                    raise HAError(f"{message.get('type')}: {msg.get('error')}")
                return msg.get("result")


async def rest(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    method: str,
    path: str,
    *,
    body: Any = None,
) -> Any:
    """One authenticated REST call; raises HAError on a non-2xx answer."""
    async with session.request(
        method, f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        text = await resp.text()
        if resp.status >= 300:
            raise HAError(f"{method} {path}: HTTP {resp.status}: {text}")
        return await resp.json() if text else None
