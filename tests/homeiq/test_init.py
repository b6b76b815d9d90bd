"""Tests for setting up and unloading HomeIQ, the managed sidecar and its runtime."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
import os
from pathlib import Path
import subprocess
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.homeiq import runtime
from custom_components.homeiq.const import (
    CONF_ANALYSIS_TIME,
    CONF_MODE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    ENV_SIDECAR_PYTHON,
    MODE_EXTERNAL,
)
from custom_components.homeiq.coordinator import HEALTH_INTERVAL, STORAGE_VERSION
from custom_components.homeiq.sidecar import STATE_INSTALL_FAILED, STATE_RUNNING

from .conftest import SIDECAR_TOKEN, start_sidecar, stop_sidecar

# The recorder is a dependency; recorder_mock must be set up before hass.
pytestmark = pytest.mark.usefixtures("recorder_mock")

SIDECAR_SENSOR = "binary_sensor.homeiq_sidecar"
PATTERNS_SENSOR = "sensor.homeiq_patterns"


async def wait_for(condition, timeout: float = 60.0) -> None:
    """Poll until the condition holds (the sidecar is a real process: seconds, not ticks)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.1)


def pid_alive(pid: int) -> bool:
    """True while the process exists (and is not a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


async def test_setup_and_unload_external(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The entry loads with typed runtime data, sees the sidecar, and unloads cleanly."""
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.mode == MODE_EXTERNAL
    await wait_for(lambda: hass.states.get(SIDECAR_SENSOR).state == STATE_ON)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_setup_restores_stored_results_without_analysis(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Setup shows what .storage holds at once and runs no analysis."""
    store: Store[dict] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.{mock_config_entry.entry_id}")
    await store.async_save(
        {
            "patterns": [
                {"id": "p1", "type": "time_of_day", "confidence": 0.9, "category": "comfort",
                 "description": "Kitchen light on around 07:00.", "suggestion": None},
            ],
            "decisions": {},
            "summary": {"events": 10},
            "last_analysis": "2026-11-20T03:00:00+00:00",
            "duration_s": 1.5,
            "events": 10,
        }
    )  # fmt: skip
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(PATTERNS_SENSOR).state == "1"
    last = hass.states.get("sensor.homeiq_last_analysis")
    assert last.state == "2026-11-20T03:00:00+00:00"
    assert last.attributes["events"] == 10
    assert not mock_config_entry.runtime_data.coordinator.analyzing

    # Removing the entry removes its stored results too.
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert await store.async_load() is None


async def test_external_sidecar_down_keeps_entry_loaded(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    unused_tcp_port: int,
) -> None:
    """An unreachable container: the entry loads, the repair issue says why."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={"mode": MODE_EXTERNAL, "url": f"http://127.0.0.1:{unused_tcp_port}", "token": "t"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    # The first check of an external sidecar is a background task: wait for it too.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(SIDECAR_SENSOR).state == STATE_OFF
    assert ir.async_get(hass).async_get_issue(DOMAIN, "sidecar_unreachable") is not None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_external_sidecar_down_at_setup_recovers(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    unused_tcp_port: int,
    tmp_path: Path,
) -> None:
    """The entry stays loaded while the container is down; the health check sees it return.

    No setup retry by design: stored results stay visible, and the connectivity sensor and
    the repair issue follow the container with each health check (every HEALTH_INTERVAL).
    """
    url = f"http://127.0.0.1:{unused_tcp_port}"
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: url, CONF_TOKEN: SIDECAR_TOKEN},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(SIDECAR_SENSOR).state == STATE_OFF
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, "sidecar_unreachable") is not None

    async def start_container() -> subprocess.Popen[bytes]:
        process, started_url = await hass.async_add_executor_job(
            partial(start_sidecar, tmp_path, SIDECAR_TOKEN, port=unused_tcp_port)
        )
        assert started_url == url
        return process

    async def next_health_check() -> None:
        async_fire_time_changed(hass, dt_util.utcnow() + HEALTH_INTERVAL + timedelta(seconds=1))
        await hass.async_block_till_done(wait_background_tasks=True)

    process = await start_container()
    try:
        # Nothing polls in between: the sensor follows the next health check, not before.
        await hass.async_block_till_done(wait_background_tasks=True)
        assert hass.states.get(SIDECAR_SENSOR).state == STATE_OFF
        await next_health_check()
        await wait_for(lambda: hass.states.get(SIDECAR_SENSOR).state == STATE_ON, timeout=15)
        assert issues.async_get_issue(DOMAIN, "sidecar_unreachable") is None

        # The container goes away again: the next check turns the sensor off and raises the
        # issue; when it is back, the check after that clears it.
        await hass.async_add_executor_job(stop_sidecar, process)
        await next_health_check()
        await wait_for(lambda: hass.states.get(SIDECAR_SENSOR).state == STATE_OFF, timeout=15)
        assert issues.async_get_issue(DOMAIN, "sidecar_unreachable") is not None
        assert entry.state is ConfigEntryState.LOADED

        process = await start_container()
        await next_health_check()
        await wait_for(lambda: hass.states.get(SIDECAR_SENSOR).state == STATE_ON, timeout=15)
        assert issues.async_get_issue(DOMAIN, "sidecar_unreachable") is None
        assert entry.runtime_data.coordinator.connected
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_add_executor_job(stop_sidecar, process)


@pytest.mark.usefixtures("fast_supervisor")
async def test_managed_sidecar_lifecycle(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Setup returns before the sidecar runs; it starts, restarts when killed, stops on unload."""
    managed_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    assert managed_config_entry.state is ConfigEntryState.LOADED
    sidecar = managed_config_entry.runtime_data.sidecar
    coordinator = managed_config_entry.runtime_data.coordinator
    await wait_for(lambda: coordinator.connected)
    assert sidecar.state == STATE_RUNNING
    assert sidecar.url is not None
    assert sidecar.url.startswith("http://127.0.0.1:")
    await hass.async_block_till_done()
    assert hass.states.get(SIDECAR_SENSOR).state == STATE_ON

    supervisor = sidecar.supervisor
    assert supervisor is not None
    first_pid = supervisor.pid
    assert first_pid is not None
    # It runs at a lower CPU priority than Home Assistant.
    assert int(Path(f"/proc/{first_pid}/stat").read_text().rsplit(")", 1)[1].split()[16]) == 10
    os.kill(first_pid, 9)
    await wait_for(lambda: supervisor.pid not in (None, first_pid) and supervisor.url is not None)
    assert supervisor.restarts == 1
    # The dead process's output (its ring buffer) went to the log, with the exit code.
    assert "exited with code -9" in caplog.text
    assert "sidecar: " in caplog.text
    await wait_for(lambda: coordinator.connected)

    second_pid = supervisor.pid
    assert await hass.config_entries.async_unload(managed_config_entry.entry_id)
    await hass.async_block_till_done()
    assert second_pid is not None
    assert not pid_alive(second_pid)
    assert supervisor.pid is None


@pytest.mark.usefixtures("fast_supervisor")
async def test_managed_sidecar_stops_with_home_assistant(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
) -> None:
    """HA's stop event stops the sidecar too."""
    managed_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    supervisor = managed_config_entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await wait_for(lambda: supervisor.url is not None)
    pid = supervisor.pid
    assert pid is not None
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await wait_for(lambda: not pid_alive(pid), timeout=15)
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


async def test_runtime_install_failure_raises_issue(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A runtime that cannot be created: the entry stays loaded and a repair issue shows why."""
    monkeypatch.delenv(ENV_SIDECAR_PYTHON, raising=False)
    # A file where the runtime folder must go: venv creation really fails.
    (config_dir / DOMAIN).write_text("not a folder")
    managed_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    sidecar = managed_config_entry.runtime_data.sidecar
    await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
    await hass.async_block_till_done()
    registry = ir.async_get(hass)
    issue = registry.async_get_issue(DOMAIN, "runtime_install_failed")
    assert issue is not None
    assert issue.translation_placeholders
    assert "venv" in issue.translation_placeholders["error"]
    assert registry.async_get_issue(DOMAIN, "runtime_installing") is None
    assert managed_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get(PATTERNS_SENSOR).state == "0"
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


def test_runtime_stamp_detects_changed_requirements(tmp_path: Path) -> None:
    """A venv is reused only while its stamp matches the shipped requirements."""
    stamp = runtime.requirements_stamp()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    assert runtime._ready_python(tmp_path, stamp) is None  # no stamp yet
    (tmp_path / runtime.STAMP_FILE).write_text(stamp)
    assert runtime._ready_python(tmp_path, stamp) == str(tmp_path / "bin" / "python")
    assert runtime._ready_python(tmp_path, "other") is None


def test_managed_unsupported_reason_on_this_host() -> None:
    """This test host is glibc x86-64 with SSE4.2: managed mode is allowed."""
    assert runtime.managed_unsupported_reason() is None


@pytest.mark.parametrize(
    ("value", "runs_at", "not_at"),
    [
        ("04:30:00", (4, 30), (3, 0)),
        # The time selector also accepts minutes only (an entry made through the API).
        ("04:30", (4, 30), (3, 0)),
        # Not a time (a hand-edited entry): the default, 03:00, with a warning; set-up goes on.
        ("half past four", (3, 0), (4, 30)),
    ],
)
async def test_daily_analysis_at_configured_time(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    value: str,
    runs_at: tuple[int, int],
    not_at: tuple[int, int],
) -> None:
    """The analysis runs at the configured time, not at setup."""
    mock_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_ANALYSIS_TIME: value})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert ("is not a time" in caplog.text) is (runs_at == (3, 0))
    coordinator = mock_config_entry.runtime_data.coordinator
    await wait_for(lambda: coordinator.connected)
    assert coordinator.data.last_analysis is None

    next_day = dt_util.now() + timedelta(days=1)
    at = {"minute": 0, "second": 0, "microsecond": 0}
    async_fire_time_changed(
        hass, next_day.replace(**{**at, "hour": not_at[0], "minute": not_at[1]})
    )
    await hass.async_block_till_done()
    assert coordinator.data.last_analysis is None
    async_fire_time_changed(
        hass, next_day.replace(**{**at, "hour": runs_at[0], "minute": runs_at[1]})
    )
    await wait_for(lambda: coordinator.data.last_analysis is not None)
    assert hass.states.get("sensor.homeiq_last_analysis").state != "unknown"
    await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_runtime_venv_created_once_and_stamped(
    hass: HomeAssistant,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real venv is created under <config>/homeiq/runtime, stamped, and reused after."""
    monkeypatch.delenv(ENV_SIDECAR_PYTHON, raising=False)
    # Nothing to download: the test checks the venv, stamp and reuse, not pip's network.
    requirements = config_dir / "requirements.txt"
    requirements.write_text("# empty\n")
    monkeypatch.setattr(runtime, "REQUIREMENTS", requirements)
    python = await runtime.async_ensure_runtime(hass)
    assert python == str(config_dir / DOMAIN / "runtime" / "bin" / "python")
    assert Path(python).exists()
    stamp = config_dir / DOMAIN / "runtime" / runtime.STAMP_FILE
    first = stamp.stat().st_mtime_ns
    assert await runtime.async_ensure_runtime(hass) == python
    assert stamp.stat().st_mtime_ns == first  # reused, not rebuilt

    requirements.write_text("# changed\n")
    assert await runtime.async_ensure_runtime(hass) == python
    assert stamp.stat().st_mtime_ns != first  # a new requirements hash rebuilds it


@pytest.mark.usefixtures("fast_supervisor")
async def test_managed_entry_on_unsupported_platform(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
) -> None:
    """A managed entry on musl (e.g. a restored backup): no install, an issue that says why."""
    managed_config_entry.add_to_hass(hass)
    with patch(
        "custom_components.homeiq.sidecar.managed_unsupported_reason",
        return_value=runtime.UNSUPPORTED_MUSL,
    ):
        assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
        sidecar = managed_config_entry.runtime_data.sidecar
        await wait_for(lambda: sidecar.state == STATE_INSTALL_FAILED)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "runtime_install_failed")
    assert issue is not None
    assert "container" in issue.translation_placeholders["error"]
    assert sidecar.supervisor is not None
    assert sidecar.supervisor.pid is None  # nothing was started
    await hass.config_entries.async_unload(managed_config_entry.entry_id)
