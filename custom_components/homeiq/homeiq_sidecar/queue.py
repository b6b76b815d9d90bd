"""A bounded work queue: a few jobs run, a few wait, the rest are refused (HTTP 429)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class QueueFullError(Exception):
    """Too many requests are already waiting."""


class WorkQueue:
    """`max_running` jobs at once and at most `max_waiting` in line behind them.

    Model work saturates the CPU, so running more at once only makes every caller slower;
    refusing early lets the client back off instead of timing out.
    """

    def __init__(self, *, max_running: int = 1, max_waiting: int = 8) -> None:
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self._semaphore = asyncio.Semaphore(max_running)
        self._max_running = max_running
        self._max_waiting = max_waiting
        self._waiting = 0
        self._running = 0

    @property
    def waiting(self) -> int:
        """Jobs waiting for a slot."""
        return self._waiting

    @property
    def running(self) -> int:
        """Jobs holding a slot."""
        return self._running

    def stats(self) -> dict[str, int]:
        """For /v1/models and logs."""
        return {
            "running": self._running,
            "waiting": self._waiting,
            "max_running": self._max_running,
            "max_waiting": self._max_waiting,
        }

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the `async with`; raise QueueFullError if none is near."""
        if self._semaphore.locked():
            if self._waiting >= self._max_waiting:
                raise QueueFullError
            self._waiting += 1
            try:
                await self._semaphore.acquire()
            finally:
                self._waiting -= 1
        else:
            await self._semaphore.acquire()
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._semaphore.release()
