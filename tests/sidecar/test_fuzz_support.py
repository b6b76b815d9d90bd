"""Support for the API fuzz tests (no tests of its own): a real sidecar served from a thread, a raw HTTP client,
and a tally of every fuzz case's outcome.

The in-process server runs the real `serve()` (real ModelManager, real routes, real limits) on
its own event loop in a thread, so hypothesis can drive it with plain blocking requests and a
hang shows up as a socket timeout rather than a stuck test loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
import http.client
import json
import threading
from typing import Any

from homeiq_sidecar.server import serve
from homeiq_sidecar.settings import Settings

REQUEST_TIMEOUT_S = 60.0
# What an error body may never contain: a traceback, a source path, a token.
LEAK_MARKERS = ("Traceback", 'File "', '.py"', "/work/", "site-packages", "homeiq_sidecar/")


@dataclass
class Reply:
    """One HTTP exchange as the fuzz tests judge it."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Tally:
    """How many cases ran per target and route, and which statuses came back."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, target: str, route: str, status: int) -> None:
        self.cases[f"{target} {route}"] += 1
        self.statuses[f"{target} {status}"] += 1
        if status >= 500 and status != 503:
            self.bad.append(f"{target} {route} -> {status}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": sum(self.cases.values()),
            "cases": dict(sorted(self.cases.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors_other_than_503": self.bad,
            "notes": self.notes,
        }


TALLY = Tally()


@dataclass
class Target:
    """A sidecar the fuzz tests talk to (in-process thread or subprocess)."""

    name: str
    host: str
    port: int
    token: str
    secrets: tuple[str, ...]
    pid: int | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        auth: bool = True,
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> Reply:
        """One request on a fresh connection; raises TimeoutError if it hangs."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        sent = {"Content-Type": "application/json"}
        if auth:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            reply = Reply(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            conn.close()
        TALLY.record(self.name, path, reply.status)
        return reply

    def post_json(self, path: str, data: Any, **kwargs: Any) -> Reply:
        return self.request("POST", path, json.dumps(data).encode(), **kwargs)

    def check_error_body(self, reply: Reply) -> dict[str, Any]:
        """The error shape, with nothing secret or internal in it."""
        assert reply.status < 500 or reply.status == 503, (reply.status, reply.body[:500])
        text = reply.body.decode("utf-8", "replace")
        for secret in self.secrets:
            assert secret not in text
        for marker in LEAK_MARKERS:
            assert marker not in text, (marker, text[:500])
        body = reply.json()
        assert set(body) == {"error"}, text[:300]
        assert set(body["error"]) == {"code", "message"}
        return dict(body["error"])

    def assert_healthy(self) -> None:
        reply = self.request("GET", "/health", auth=False, timeout=10)
        assert reply.status == 200
        assert reply.json()["status"] == "ok"


class _ReadyLine:
    """A stream for serve()'s ready line: parse it and wake the starting thread."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.address: dict[str, Any] = {}

    def write(self, text: str) -> int:
        if text.strip():
            self.address = json.loads(text)
            self.ready.set()
        return len(text)

    def flush(self) -> None:
        return None


class ThreadServer:
    """The real `serve()` on its own loop in a daemon thread."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._line = _ReadyLine()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="fuzz-sidecar", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(self._settings, ready_stream=self._line, stop=self._stop)  # type: ignore[arg-type]

        try:
            self._loop.run_until_complete(main())
        except BaseException as err:
            self._error = err
            self._line.ready.set()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    def start(self) -> tuple[str, int]:
        self.thread.start()
        if not self._line.ready.wait(60) or self._error is not None:
            raise AssertionError(f"in-process sidecar did not start: {self._error!r}")
        return str(self._line.address["host"]), int(self._line.address["port"])

    def alive(self) -> bool:
        return self.thread.is_alive() and self._error is None

    def stop(self) -> None:
        if self._stop is not None and self.thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(60)
