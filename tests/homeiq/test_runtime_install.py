"""The managed runtime install: retried with back-off, "installing" shown only while it runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
import sys
from unittest.mock import AsyncMock, patch

from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.homeiq import runtime, supervisor
from custom_components.homeiq.const import DOMAIN, ENV_SIDECAR_PYTHON
from custom_components.homeiq.sidecar import (
    INSTALL_RETRY_FIRST,
    INSTALL_RETRY_MAX,
    STATE_INSTALL_FAILED,
    STATE_INSTALLING,
)

from .test_init import pid_alive, wait_for

pytestmark = pytest.mark.usefixtures("recorder_mock")

ENSURE = "custom_components.homeiq.sidecar.async_ensure_runtime"
PLATFORM = "custom_components.homeiq.sidecar.managed_unsupported_reason"
INSTALLING = "runtime_installing"
FAILED = "runtime_install_failed"


@pytest.fixture
def no_runtime(monkeypatch: pytest.MonkeyPatch, config_dir: Path) -> Path:
    """No interpreter is configured and a file stands where the venv must go: installs fail.

    The failure is real (`python -m venv` refuses); returns the file that causes it.
    """
    monkeypatch.delenv(ENV_SIDECAR_PYTHON, raising=False)
    monkeypatch.setattr(supervisor, "RESPAWN_BACKOFF", (0.2,))
    monkeypatch.setattr(supervisor, "READY_TIMEOUT", 60.0)
    blocker = config_dir / DOMAIN
    blocker.write_text("not a folder")
    return blocker


def issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """HomeIQ's repair issue with this id, if shown."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


def created(events: list[Event], issue_id: str) -> int:
    """How often the issue was created (shown anew)."""
    return sum(1 for e in events if e.data["issue_id"] == issue_id and e.data["action"] == "create")


async def fire_after(hass: HomeAssistant, seconds: float) -> None:
    """Move HA's clock `seconds` ahead of now and run what is due."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


async def test_failed_install_is_retried_with_back_off(
    hass: HomeAssistant,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    no_runtime: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """5 min, then 10 min; when the runtime is there the issue clears and the sidecar starts."""
    events = async_capture_events(hass, ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED)
    managed_config_entry.add_to_hass(hass)
    with patch(ENSURE, wraps=runtime.async_ensure_runtime) as ensure:
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
        assert ensure.await_count == 1
        assert issue(hass, FAILED) is not None

        await fire_after(hass, INSTALL_RETRY_FIRST - 10)
        assert ensure.await_count == 1
        await fire_after(hass, INSTALL_RETRY_FIRST + 1)
        await wait_for(lambda: ensure.await_count == 2 and sidecar.state == STATE_INSTALL_FAILED)
        assert issue(hass, FAILED) is not None

        # The second retry waits twice as long.
        await fire_after(hass, 2 * INSTALL_RETRY_FIRST - 10)
        assert ensure.await_count == 2
        # Meanwhile the cause goes away (here: an interpreter is provided).
        no_runtime.unlink()
        monkeypatch.setenv(ENV_SIDECAR_PYTHON, sys.executable)
        await fire_after(hass, 2 * INSTALL_RETRY_FIRST + 1)
        assert sidecar.supervisor is not None
        await wait_for(lambda: sidecar.supervisor.url is not None)

    assert issue(hass, FAILED) is None
    assert issue(hass, INSTALLING) is None
    assert sidecar.install_error is None
    # "Installing" was shown for the first install only: retries keep the error on screen.
    assert created(events, INSTALLING) == 1
    await wait_for(lambda: managed_config_entry.runtime_data.coordinator.connected)
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


async def test_retry_delay_doubles_up_to_an_hour(
    hass: HomeAssistant,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    no_runtime: Path,
) -> None:
    """Each failure doubles the wait, never beyond INSTALL_RETRY_MAX."""
    failing = AsyncMock(side_effect=runtime.RuntimeInstallError("pip: no network"))
    managed_config_entry.add_to_hass(hass)
    with patch(ENSURE, failing):
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: failing.await_count == 1 and sidecar.state == STATE_INSTALL_FAILED)
        delays = [300.0, 600.0, 1200.0, 2400.0, 3600.0, 3600.0]
        assert delays[0] == INSTALL_RETRY_FIRST
        assert delays[-1] == INSTALL_RETRY_MAX
        for attempt, delay in enumerate(delays, start=2):
            await fire_after(hass, delay - 10)
            assert failing.await_count == attempt - 1
            await fire_after(hass, delay + 1)
            await wait_for(
                lambda n=attempt: failing.await_count == n and sidecar.state == STATE_INSTALL_FAILED
            )
    failed = issue(hass, FAILED)
    assert failed is not None
    assert failed.translation_placeholders == {"error": "pip: no network"}
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


async def test_unload_stops_retries(
    hass: HomeAssistant,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    no_runtime: Path,
) -> None:
    """Unloading cancels the pending retry (phcc fails the test on a lingering timer)."""
    managed_config_entry.add_to_hass(hass)
    with patch(ENSURE, wraps=runtime.async_ensure_runtime) as ensure:
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
        assert await hass.config_entries.async_unload(managed_config_entry.entry_id)
        await fire_after(hass, 2 * INSTALL_RETRY_MAX)
    assert ensure.await_count == 1
    assert issue(hass, FAILED) is None


async def test_unload_during_a_retry_cancels_it(
    hass: HomeAssistant,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    no_runtime: Path,
) -> None:
    """An install that is running when the entry unloads is cancelled, not left behind."""
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow_install(_hass: HomeAssistant) -> str:
        if not started.is_set():
            started.set()
            raise runtime.RuntimeInstallError("first try fails")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return sys.executable

    managed_config_entry.add_to_hass(hass)
    with patch(ENSURE, side_effect=slow_install):
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
        await fire_after(hass, INSTALL_RETRY_FIRST + 1)
        await wait_for(lambda: sidecar.state == STATE_INSTALLING)
        assert await hass.config_entries.async_unload(managed_config_entry.entry_id)
    assert cancelled.is_set()
    assert sidecar.supervisor is not None
    assert sidecar.supervisor.pid is None


async def test_unsupported_platform_is_not_retried(
    hass: HomeAssistant,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    no_runtime: Path,
) -> None:
    """On musl no install can succeed: the issue says so and nothing is retried."""
    managed_config_entry.add_to_hass(hass)
    with (
        patch(PLATFORM, return_value=runtime.UNSUPPORTED_MUSL) as platform,
        patch(ENSURE, wraps=runtime.async_ensure_runtime) as ensure,
    ):
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
        await fire_after(hass, 2 * INSTALL_RETRY_MAX)
    assert platform.call_count == 1
    assert ensure.await_count == 0
    assert issue(hass, FAILED) is not None
    assert issue(hass, INSTALLING) is None
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


@pytest.mark.usefixtures("fast_supervisor")
async def test_ready_runtime_shows_no_installing_issue(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
) -> None:
    """A runtime that is ready already: the sidecar starts without flashing "installing"."""
    events = async_capture_events(hass, ir.EVENT_REPAIRS_ISSUE_REGISTRY_UPDATED)
    managed_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    sidecar = managed_config_entry.runtime_data.sidecar
    assert sidecar.supervisor is not None
    await wait_for(lambda: sidecar.supervisor.url is not None)
    assert created(events, INSTALLING) == 0
    assert created(events, FAILED) == 0
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


async def test_stamped_venv_is_ready_without_install(
    hass: HomeAssistant, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readiness check finds a stamped venv and builds nothing."""
    monkeypatch.delenv(ENV_SIDECAR_PYTHON, raising=False)
    root = runtime.runtime_dir(hass)
    assert await runtime.async_runtime_python(hass) is None
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python").write_text("")
    (root / runtime.STAMP_FILE).write_text(runtime.requirements_stamp())
    assert await runtime.async_runtime_python(hass) == str(root / "bin" / "python")


async def test_cancelled_install_kills_its_process(tmp_path: Path) -> None:
    """Unload or HA stop during pip: the install process does not outlive it."""
    pid_file = tmp_path / "pid"
    script = (
        f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()));"
        " time.sleep(60)"
    )
    task = asyncio.create_task(runtime._run(sys.executable, "-c", script))
    await wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", timeout=30)
    pid = int(pid_file.read_text())
    assert pid_alive(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not pid_alive(pid)
