"""Supervises the managed sidecar process (modelled on HA core's go2rtc server)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import suppress
import json
import logging
import os
from pathlib import Path
import time

from homeassistant.core import HomeAssistant

from .const import LOGGER

# Module constants so tests can shorten them.
READY_TIMEOUT = 120.0  # first start imports OpenVINO; a cold disk is slow
TERMINATE_TIMEOUT = 10.0
RESPAWN_BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
STABLE_AFTER = 300.0  # a run this long resets the back-off
LOG_BUFFER_SIZE = 300
LOCALHOST = "127.0.0.1"
# Mining and inference yield the CPU to Home Assistant: HA stays responsive on small machines.
SIDECAR_NICE = 10
PACKAGE_DIR = Path(__file__).parent  # holds homeiq_sidecar/ and homeiq_miner/


class SidecarStartError(Exception):
    """The sidecar did not report ready in time or exited first."""


class SidecarSupervisor:
    """Start the sidecar on loopback, wait for its ready line, restart it when it dies."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        data_dir: Path,
        token: str,
        precision: str,
        on_change: Callable[[], None],
    ) -> None:
        """Nothing runs until `async_start`."""
        self._hass = hass
        self._data_dir = data_dir
        self._token = token
        self._precision = precision
        self._on_change = on_change
        self._log_buffer: deque[str] = deque(maxlen=LOG_BUFFER_SIZE)
        self._process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[int] | None = None
        self.url: str | None = None
        self.restarts = 0
        self.last_error: str | None = None

    @property
    def log_tail(self) -> list[str]:
        """The sidecar's latest output lines (for diagnostics)."""
        return list(self._log_buffer)

    @property
    def pid(self) -> int | None:
        """The running process id, if any."""
        return self._process.pid if self._process else None

    def async_start(self, python: str) -> None:
        """Run the sidecar with `python` in a background task until `async_stop`."""
        if self._task is None:
            self._task = self._hass.async_create_background_task(
                self._run(python), "homeiq sidecar supervisor"
            )

    async def _run(self, python: str) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                await self._start(python)
                assert self._process is not None
                await self._process.wait()
                self.last_error = f"sidecar exited with code {self._process.returncode}"
                LOGGER.warning("HomeIQ sidecar %s; its last output:", self.last_error)
            except (SidecarStartError, OSError) as err:
                self.last_error = str(err)
                LOGGER.warning("HomeIQ sidecar did not start: %s; its output:", err)
            self._log_output(logging.WARNING)
            await self._stop_process()
            self._set_url(None)
            if time.monotonic() - started > STABLE_AFTER:
                attempt = 0
            delay = RESPAWN_BACKOFF[min(attempt, len(RESPAWN_BACKOFF) - 1)]
            attempt += 1
            self.restarts += 1
            LOGGER.info("Restarting the HomeIQ sidecar in %.0f s", delay)
            await asyncio.sleep(delay)

    async def _start(self, python: str) -> None:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(PACKAGE_DIR),
            PYTHONUNBUFFERED="1",
            # The token goes through the environment: argv is visible to every local user.
            HOMEIQ_SIDECAR_TOKEN=self._token,
        )
        self._ready = self._hass.loop.create_future()
        self._process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "homeiq_sidecar",
            "--host",
            LOCALHOST,
            "--port",
            "0",
            "--data-dir",
            str(self._data_dir),
            "--precision",
            self._precision,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
        )
        with suppress(OSError):
            # Right after spawn, before the sidecar starts threads (they inherit it).
            os.setpriority(os.PRIO_PROCESS, self._process.pid, SIDECAR_NICE)
        self._hass.async_create_background_task(
            self._read_output(self._process, self._ready), "homeiq sidecar output"
        )
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                port = await self._ready
        except TimeoutError as err:
            raise SidecarStartError(f"no ready line within {READY_TIMEOUT:.0f} s") from err
        self._set_url(f"http://{LOCALHOST}:{port}")
        LOGGER.debug("HomeIQ sidecar ready at %s (pid %s)", self.url, self._process.pid)

    async def _read_output(
        self, process: asyncio.subprocess.Process, ready: asyncio.Future[int]
    ) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self._log_buffer.append(line)
            LOGGER.debug("sidecar: %s", line)
            if not ready.done() and line.startswith("{"):
                with suppress(ValueError, KeyError, TypeError):
                    message = json.loads(line)
                    if message["event"] == "ready":
                        ready.set_result(int(message["port"]))
        if not ready.done():
            ready.set_exception(
                SidecarStartError(f"sidecar exited with code {await process.wait()}")
            )

    def _log_output(self, level: int) -> None:
        for line in list(self._log_buffer):
            LOGGER.log(level, "sidecar: %s", line)
        self._log_buffer.clear()

    def _set_url(self, url: str | None) -> None:
        if url != self.url:
            self.url = url
            self._on_change()

    async def async_stop(self) -> None:
        """Stop supervising and stop the process: terminate, wait, then kill."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_process()
        self.url = None

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(TERMINATE_TIMEOUT):
                await process.wait()
        except TimeoutError:
            LOGGER.warning("HomeIQ sidecar did not stop in %.0f s; killing it", TERMINATE_TIMEOUT)
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
