"""The bounded work queue: limits concurrency and refuses beyond the waiting line."""

from __future__ import annotations

import asyncio

import pytest

from homeiq_sidecar.queue import QueueFullError, WorkQueue


async def test_runs_one_at_a_time_and_refuses_beyond_the_line() -> None:
    queue = WorkQueue(max_running=1, max_waiting=1)
    release = asyncio.Event()
    order: list[str] = []

    async def job(name: str) -> None:
        async with queue.slot():
            order.append(f"start {name}")
            await release.wait()
            order.append(f"end {name}")

    first = asyncio.create_task(job("a"))
    await asyncio.sleep(0)
    second = asyncio.create_task(job("b"))
    await asyncio.sleep(0)
    assert queue.running == 1
    assert queue.waiting == 1

    async def third() -> None:
        async with queue.slot():
            pass

    # Refused at once, not queued (a wrong queue would wait here; the timeout turns that into
    # a failure instead of a hang).
    with pytest.raises(QueueFullError):
        await asyncio.wait_for(third(), timeout=2)
    release.set()
    await asyncio.gather(first, second)
    assert order == ["start a", "end a", "start b", "end b"]
    assert queue.stats() == {"running": 0, "waiting": 0, "max_running": 1, "max_waiting": 1}


async def test_cancelled_waiter_frees_its_place() -> None:
    queue = WorkQueue(max_running=1, max_waiting=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with queue.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert queue.waiting == 0
    release.set()
    await holder
    async with queue.slot():
        assert queue.running == 1
