"""How the integration reaches its sidecar: a managed subprocess or an external container."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from . import issues
from .api import HomeIQClient
from .const import LOGGER
from .runtime import (
    RuntimeInstallError,
    async_ensure_runtime,
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

        Runs as a background task: setup never waits for it.
        """
        if self.supervisor is None:
            return
        try:
            # The entry may come from a backup restored onto HA OS / Container (musl).
            if reason := await self._hass.async_add_executor_job(managed_unsupported_reason):
                raise RuntimeInstallError(  # noqa: TRY301 - one failure path for the user
                    f"This system cannot run OpenVINO ({reason}). Run the HomeIQ sidecar"
                    " container and reconfigure HomeIQ to External."
                )
            self.state = STATE_INSTALLING
            issues.async_raise(self._hass, issues.ISSUE_RUNTIME_INSTALLING)
            python = await async_ensure_runtime(self._hass)
        except (RuntimeInstallError, OSError) as err:
            LOGGER.error("Could not create the HomeIQ sidecar runtime: %s", err)
            self.state = STATE_INSTALL_FAILED
            self.install_error = str(err)
            issues.async_clear(self._hass, issues.ISSUE_RUNTIME_INSTALLING)
            issues.async_raise(
                self._hass, issues.ISSUE_RUNTIME_INSTALL_FAILED, error=str(err)[-1500:]
            )
            self._on_change()
            return
        issues.async_clear(
            self._hass, issues.ISSUE_RUNTIME_INSTALLING, issues.ISSUE_RUNTIME_INSTALL_FAILED
        )
        self.state = STATE_STARTING
        self.supervisor.async_start(python)
        self._on_change()

    async def async_stop(self) -> None:
        """Stop a managed sidecar (terminate, wait, kill)."""
        if self.supervisor is not None:
            await self.supervisor.async_stop()
            self.state = STATE_STOPPED
