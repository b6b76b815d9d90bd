"""How the integration reaches its sidecar: a managed subprocess or an external container."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later

from . import issues
from .api import HomeIQClient
from .const import LOGGER
from .runtime import (
    RuntimeInstallError,
    async_ensure_runtime,
    async_runtime_python,
    managed_unsupported_reason,
    models_dir,
)
from .supervisor import SidecarSupervisor

STATE_EXTERNAL = "external"
STATE_INSTALLING = "installing"
STATE_INSTALL_FAILED = "install_failed"
STATE_STARTING = "starting"
STATE_RUNNING = "running"
STATE_STOPPED = "stopped"

# A failed install (network down, mirror hiccup) often heals by itself: retry after 5 minutes,
# doubling up to hourly. Module constants so tests can read them.
INSTALL_RETRY_FIRST = 300.0
INSTALL_RETRY_MAX = 3600.0


class Sidecar:
    """The one sidecar of the entry; `client` is None while it cannot be reached."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        token: str,
        url: str | None,
        precision: str,
        on_change: Callable[[], None],
    ) -> None:
        """External when `url` is given, managed otherwise (nothing starts yet)."""
        self._hass = hass
        self._token = token
        self._on_change = on_change
        self._external_url = url
        self.supervisor: SidecarSupervisor | None = None
        self.state = STATE_EXTERNAL if url else STATE_STOPPED
        self.install_error: str | None = None
        self._install_failures = 0  # in a row: sets the next retry's delay
        self._cancel_retry: CALLBACK_TYPE | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self._stopped = False
        if url is None:
            self.supervisor = SidecarSupervisor(
                hass,
                data_dir=models_dir(hass),
                token=token,
                precision=precision,
                on_change=self._supervisor_changed,
            )

    @property
    def managed(self) -> bool:
        """True when Home Assistant runs the sidecar."""
        return self.supervisor is not None

    @property
    def url(self) -> str | None:
        """Where the sidecar answers now."""
        if self.supervisor is not None:
            return self.supervisor.url
        return self._external_url

    @property
    def client(self) -> HomeIQClient | None:
        """A client for the sidecar, or None while a managed one is not running."""
        if (url := self.url) is None:
            return None
        return HomeIQClient(async_get_clientsession(self._hass), url, self._token)

    def _supervisor_changed(self) -> None:
        assert self.supervisor is not None
        self.state = STATE_RUNNING if self.supervisor.url else STATE_STARTING
        self._on_change()

    async def async_run(self) -> None:
        """Managed: ensure the runtime (slow, first time), then start supervising.

        Runs as a background task: setup never waits for it. A failed install is retried with
        back-off until it succeeds or the entry unloads.
        """
        if self.supervisor is None:
            return
        # The entry may come from a backup restored onto HA OS / Container (musl): no retry helps.
        if reason := await self._hass.async_add_executor_job(managed_unsupported_reason):
            self._install_failed(
                f"This system cannot run OpenVINO ({reason}). Run the HomeIQ sidecar"
                " container and reconfigure HomeIQ to External."
            )
            return
        try:
            if (python := await async_runtime_python(self._hass)) is None:
                self.state = STATE_INSTALLING
                # Only while an install really runs; a retry keeps showing the last error.
                if self.install_error is None:
                    issues.async_raise(self._hass, issues.ISSUE_RUNTIME_INSTALLING)
                python = await async_ensure_runtime(self._hass)
        except (RuntimeInstallError, OSError) as err:
            self._install_failed(str(err))
            self._schedule_retry()
            return
        if self._stopped:  # unloaded or HA stopping while it installed
            return
        if self.install_error is not None:
            LOGGER.info("HomeIQ sidecar runtime installed after an earlier failure")
        self._install_failures = 0
        self.install_error = None
        issues.async_clear(
            self._hass, issues.ISSUE_RUNTIME_INSTALLING, issues.ISSUE_RUNTIME_INSTALL_FAILED
        )
        self.state = STATE_STARTING
        self.supervisor.async_start(python)
        self._on_change()

    @callback
    def _install_failed(self, error: str) -> None:
        LOGGER.error("Could not create the HomeIQ sidecar runtime: %s", error)
        self.state = STATE_INSTALL_FAILED
        self.install_error = error
        issues.async_clear(self._hass, issues.ISSUE_RUNTIME_INSTALLING)
        issues.async_raise(self._hass, issues.ISSUE_RUNTIME_INSTALL_FAILED, error=error[-1500:])
        self._on_change()

    @callback
    def _schedule_retry(self) -> None:
        if self._stopped:
            return
        delay = min(INSTALL_RETRY_FIRST * 2**self._install_failures, INSTALL_RETRY_MAX)
        self._install_failures += 1
        LOGGER.info("Trying to create the HomeIQ sidecar runtime again in %.0f s", delay)
        self._cancel_retry = async_call_later(self._hass, delay, self._retry_install)

    @callback
    def _retry_install(self, _now: datetime) -> None:
        self._cancel_retry = None
        self._retry_task = self._hass.async_create_background_task(
            self.async_run(), "homeiq sidecar runtime retry"
        )

    async def async_stop(self) -> None:
        """Stop a managed sidecar (terminate, wait, kill) and any pending install retry."""
        self._stopped = True
        if self._cancel_retry is not None:
            self._cancel_retry()
            self._cancel_retry = None
        if self._retry_task is not None:
            self._retry_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None
        if self.supervisor is not None:
            await self.supervisor.async_stop()
            self.state = STATE_STOPPED
