"""Typed HTTP client for the HomeIQ sidecar (docs/sidecar-api.md); no Home Assistant imports."""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import IO, Any, cast

import aiohttp

HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=10)
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
# Mining a year of a large home takes minutes on two cores; only a dead socket should end it.
ANALYZE_TIMEOUT = aiohttp.ClientTimeout(total=3600, sock_connect=10)


class HomeIQApiError(Exception):
    """Any failure talking to the sidecar."""


class HomeIQConnectionError(HomeIQApiError):
    """The sidecar cannot be reached (down, refused, timed out)."""


class HomeIQAuthError(HomeIQApiError):
    """The sidecar refused the token (401)."""


class HomeIQModelLoadingError(HomeIQApiError):
    """A model is still loading (503); retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        """Keep the sidecar's Retry-After."""
        super().__init__(message)
        self.retry_after = retry_after


class HomeIQResponseError(HomeIQApiError):
    """The sidecar answered with an error or with something that is not the contract."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        """Keep the HTTP status and the sidecar's error code."""
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Health:
    """`GET /health`."""

    status: str
    version: str
    models_loaded: list[str]


class HomeIQClient:
    """One sidecar at `base_url`, reached through an injected aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        """Store the session (owned by the caller), the URL and the bearer token."""
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._token = token

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def health(self) -> Health:
        """Liveness and version; needs no token."""
        data = await self._request("GET", "/health", client_timeout=HEALTH_TIMEOUT, auth=False)
        try:
            return Health(
                status=str(data["status"]),
                version=str(data["version"]),
                models_loaded=[str(m) for m in data.get("models_loaded", [])],
            )
        except (KeyError, TypeError) as err:
            raise HomeIQResponseError(f"Unexpected /health reply: {data!r:.200}") from err

    async def models(self) -> dict[str, dict[str, Any]]:
        """Model roles and their state; an authenticated call (checks the token)."""
        data = await self._request("GET", "/v1/models", client_timeout=REQUEST_TIMEOUT)
        models = data.get("models")
        if not isinstance(models, dict):
            raise HomeIQResponseError(f"Unexpected /v1/models reply: {data!r:.200}")
        return cast(dict[str, dict[str, Any]], models)

    async def analyze(self, body: bytes | IO[bytes]) -> dict[str, Any]:
        """POST a prepared JSON body (bytes or a binary file streamed from disk)."""
        data = await self._request(
            "POST",
            "/v1/analyze",
            client_timeout=ANALYZE_TIMEOUT,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        if not isinstance(data.get("patterns"), list) or not isinstance(data.get("summary"), dict):
            raise HomeIQResponseError("The analysis reply has no patterns or summary")
        return data

    async def _request(
        self,
        method: str,
        path: str,
        *,
        client_timeout: aiohttp.ClientTimeout,
        auth: bool = True,
        data: bytes | IO[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if auth:
            all_headers.update(self._auth)
        try:
            async with self._session.request(
                method, self.base_url + path, data=data, headers=all_headers, timeout=client_timeout
            ) as resp:
                text = await resp.text()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientConnectionError, TimeoutError) as err:
            raise HomeIQConnectionError(
                f"Cannot reach the sidecar at {self.base_url}: {err}"
            ) from err
        except aiohttp.ClientError as err:
            raise HomeIQConnectionError(f"Request to {path} failed: {err}") from err
        try:
            payload = json.loads(text) if text else {}
        except ValueError as err:
            raise HomeIQResponseError(f"{path} did not answer JSON", status) from err
        if not isinstance(payload, dict):
            raise HomeIQResponseError(f"{path} answered {type(payload).__name__}", status)
        if status < 400:
            return cast(dict[str, Any], payload)
        raw_error = payload.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        message = str(error.get("message") or f"HTTP {status} from {path}")
        if status == 401:
            raise HomeIQAuthError(message)
        if status == 503:
            raise HomeIQModelLoadingError(message, _seconds(retry_after))
        raise HomeIQResponseError(message, status, error.get("code"))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
