"""Faults a real house throws at HomeIQ; decisions are never lost (issue 7, item 1).

Every test checks: Home Assistant keeps running, the entities stay, a repair issue or a log line
says what happened, the next run recovers by itself, and accepted/dismissed decisions survive.
The results file is written to disk for real here (phcc keeps other stores in memory).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
import errno
import json
import os
from pathlib import Path
import signal
import sqlite3
import tempfile
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir, storage
from homeassistant.util import file as file_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from sqlalchemy.exc import OperationalError

from custom_components.homeiq import history
from custom_components.homeiq.const import CONF_MIN_CONFIDENCE, DOMAIN
from custom_components.homeiq.coordinator import STORAGE_VERSION

from .home import record_home
from .test_e2e import analyze
from .test_init import wait_for

pytestmark = pytest.mark.usefixtures("recorder_mock")

FIXTURE = Path(__file__).parent / "fixtures" / "stored.json"
HABIT_ID = "tod-light-kitchen-on-0700"
PAIR_ID = "ta-door-hallway"
PATTERNS_SENSOR = "sensor.homeiq_patterns"
# The real methods, taken before phcc swaps in its in-memory store for each test.
_REAL_LOAD = storage.Store._async_load
_REAL_WRITE = storage.Store._async_write_data
_REAL_REMOVE = storage.Store.async_remove


@pytest.fixture
def real_storage(recorder_mock: Recorder, hass: HomeAssistant) -> Generator[None]:
    """HomeIQ's stores read and write real files; HA's own registries stay in memory.

    Restored by hand, not with monkeypatch: this must undo itself before phcc's patch ends.
    """
    names = ("_async_load", "_async_write_data", "async_remove")
    mocked = {name: getattr(storage.Store, name) for name in names}
    real = dict(zip(names, (_REAL_LOAD, _REAL_WRITE, _REAL_REMOVE), strict=True))

    def route(name: str) -> Callable[..., Any]:
        async def method(store: storage.Store[Any], *args: Any) -> Any:
            if store.key.startswith(f"{DOMAIN}."):
                return await real[name](store, *args)
            return await mocked[name](store, *args)

        return method

    for name in names:
        setattr(storage.Store, name, route(name))
    yield
    for name, method in mocked.items():
        setattr(storage.Store, name, method)


def results_file(config_dir: Path, entry: MockConfigEntry) -> Path:
    """`.storage/homeiq.<entry_id>` as Home Assistant's Store writes it."""
    return config_dir / ".storage" / f"{DOMAIN}.{entry.entry_id}"


def write_results(config_dir: Path, entry: MockConfigEntry, data: dict[str, Any]) -> None:
    """A previous analysis on disk, in Store's envelope."""
    path = results_file(config_dir, entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    envelope = {"version": STORAGE_VERSION, "minor_version": 1, "key": path.name, "data": data}
    path.write_text(json.dumps(envelope))


def stored_decisions(config_dir: Path, entry: MockConfigEntry) -> dict[str, str]:
    """pattern id -> status, as the results file on disk holds them."""
    data = json.loads(results_file(config_dir, entry).read_text())["data"]
    return {pid: d["status"] for pid, d in data["decisions"].items()}


def issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """HomeIQ's repair issue, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


async def decide(hass: HomeAssistant, entry: MockConfigEntry, service: str, pid: str) -> None:
    """Accept or dismiss a suggestion through its action, as a user would."""
    await hass.services.async_call(
        DOMAIN,
        service,
        {"config_entry_id": entry.entry_id, "suggestion_id": pid},
        blocking=True,
    )


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up (again) and wait for it."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def with_decision(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    real_storage: None,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """Stored results on disk, HomeIQ loaded on them, one suggestion dismissed."""
    write_results(config_dir, mock_config_entry, json.loads(FIXTURE.read_text()))
    mock_config_entry.add_to_hass(hass)
    await setup(hass, mock_config_entry)
    await decide(hass, mock_config_entry, "dismiss_suggestion", HABIT_ID)
    assert stored_decisions(config_dir, mock_config_entry) == {HABIT_ID: "dismissed"}
    return mock_config_entry


async def test_corrupt_results_file_keeps_decisions(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """HA moves the unreadable file aside; the decisions come back from their copy."""
    entry = with_decision
    assert await hass.config_entries.async_unload(entry.entry_id)
    results_file(config_dir, entry).write_text('{"version": 1, "data": {"patterns": [')

    await setup(hass, entry)
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.decisions[HABIT_ID].status == "dismissed"
    assert hass.states.get(PATTERNS_SENSOR) is not None  # the entities stay
    assert issue(hass, "results_recovered") is not None
    assert "recovered 1 accepted or dismissed" in caplog.text
    # HA kept the broken file for the user, and a good one is in place again.
    assert list(results_file(config_dir, entry).parent.glob(f"{DOMAIN}.*.corrupt.*"))
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed"}

    # The next analysis brings patterns back and clears the notice.
    await analyze(hass, entry)
    assert issue(hass, "results_recovered") is None
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed"}


async def test_results_file_deleted_keeps_decisions(
    hass: HomeAssistant, config_dir: Path, with_decision: MockConfigEntry
) -> None:
    """A lost results file (restored from an old backup, deleted) loses no decision either."""
    entry = with_decision
    assert await hass.config_entries.async_unload(entry.entry_id)
    results_file(config_dir, entry).unlink()
    await setup(hass, entry)
    assert entry.runtime_data.coordinator.data.decisions[HABIT_ID].status == "dismissed"
    assert issue(hass, "results_recovered") is not None


async def test_corrupt_backup_is_ignored(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken copy beside a good results file changes nothing and is rewritten."""
    entry = with_decision
    assert await hass.config_entries.async_unload(entry.entry_id)
    copy = results_file(config_dir, entry).with_name(f"{DOMAIN}.{entry.entry_id}.decisions")
    copy.write_text("\x00\x00not json")
    await setup(hass, entry)
    assert entry.runtime_data.coordinator.data.decisions[HABIT_ID].status == "dismissed"
    assert issue(hass, "results_recovered") is None
    assert "decisions backup" in caplog.text
    await decide(hass, entry, "dismiss_suggestion", PAIR_ID)
    assert set(json.loads(copy.read_text())["decisions"]) == {HABIT_ID, PAIR_ID}


class _FullDisk:
    """`tempfile` for HA's file writer: files open, every write fails with ENOSPC."""

    def __init__(self) -> None:
        self.attempts = 0

    def NamedTemporaryFile(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - tempfile API
        self.attempts += 1
        handle = tempfile.NamedTemporaryFile(*args, **kwargs)  # noqa: SIM115 - returned

        def write(_data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        handle.write = write
        return handle


async def test_disk_full_while_saving(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The old file stays intact, a repair issue says so, the health check saves it later."""
    entry = with_decision
    path = results_file(config_dir, entry)
    before = path.read_text()
    disk = _FullDisk()
    monkeypatch.setattr(file_util, "tempfile", disk)

    await decide(hass, entry, "dismiss_suggestion", PAIR_ID)  # the action itself succeeds
    assert disk.attempts >= 2  # the results file and the copy were both tried
    assert path.read_text() == before  # nothing half-written
    # HA's writer leaves its (empty) temp file behind when the write fails: no data, no space.
    assert all(p.stat().st_size == 0 for p in path.parent.glob("tmp*"))
    assert issue(hass, "save_failed") is not None
    assert "No space left on device" in caplog.text
    assert "Free disk space" in caplog.text
    coordinator = entry.runtime_data.coordinator
    assert coordinator.data.decisions[PAIR_ID].status == "dismissed"  # kept in memory
    assert hass.states.get(PATTERNS_SENSOR) is not None

    # Space is back: the periodic health check saves without any new change from the user.
    monkeypatch.setattr(file_util, "tempfile", tempfile)
    await coordinator._check_health()
    assert issue(hass, "save_failed") is None
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed", PAIR_ID: "dismissed"}

    # And a restart restores both.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await setup(hass, entry)
    decisions = entry.runtime_data.coordinator.data.decisions
    assert {pid: d.status for pid, d in decisions.items()} == {
        HABIT_ID: "dismissed",
        PAIR_ID: "dismissed",
    }


async def test_reload_while_disk_full_keeps_decisions(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decision not yet on disk survives reloads of the entry (an option change, a reauth)
    while the disk is still full, and reaches the disk once it has space."""
    entry = with_decision
    monkeypatch.setattr(file_util, "tempfile", _FullDisk())
    await decide(hass, entry, "dismiss_suggestion", PAIR_ID)
    assert issue(hass, "save_failed") is not None

    for _ in range(2):  # unload + set-up twice, the disk full all along
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert issue(hass, "save_failed") is not None  # still true, so still shown
        decisions = entry.runtime_data.coordinator.data.decisions
        assert decisions[PAIR_ID].status == "dismissed"
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed"}  # not on disk yet

    monkeypatch.setattr(file_util, "tempfile", tempfile)
    await entry.runtime_data.coordinator._check_health()
    assert issue(hass, "save_failed") is None
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed", PAIR_ID: "dismissed"}


async def test_recorder_database_locked(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database is locked: a translated error and a log line, then the next run reads.

    SQLite in WAL mode (HA's) lets readers through any lock but an exclusive-mode one, which
    cannot be taken while the test recorder writes; so the driver's own error is raised from
    the real read session, exactly as SQLAlchemy raises it for a locked file.
    """
    entry = with_decision
    real_scope = history.session_scope
    locked = {"on": True}

    @contextmanager
    def scope(**kwargs: Any) -> Iterator[Any]:
        with real_scope(**kwargs) as session:
            if locked["on"]:
                raise OperationalError(
                    "SELECT states_meta.metadata_id",
                    {},
                    sqlite3.OperationalError("database is locked"),
                )
            yield session

    monkeypatch.setattr(history, "session_scope", scope)
    with pytest.raises(HomeAssistantError) as err:
        await analyze(hass, entry)
    assert err.value.translation_key == "history_failed"
    assert "database is locked" in str(err.value.translation_placeholders)
    assert "could not read the recorder's history" in caplog.text
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(PATTERNS_SENSOR) is not None

    locked["on"] = False  # the backup finished: the next run works
    response = await analyze(hass, entry)
    assert "patterns" in response
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed"}


@pytest.mark.usefixtures("fast_supervisor", "real_storage")
async def test_sidecar_killed_mid_analysis_keeps_decisions(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """kill -9 while the analysis is in flight: stored results and decisions stay as they were.

    (test_e2e covers the repair issue and the restart; this adds what is on disk, and the log.)
    """
    entry = managed_config_entry
    await record_home(hass)
    write_results(config_dir, entry, json.loads(FIXTURE.read_text()))
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_MIN_CONFIDENCE: 0.4})
    await setup(hass, entry)
    coordinator = entry.runtime_data.coordinator
    supervisor = entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await decide(hass, entry, "dismiss_suggestion", PAIR_ID)
    before = results_file(config_dir, entry).read_text()
    await wait_for(lambda: coordinator.connected)

    pid = supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the request is in flight when the kill lands
    task = hass.async_create_task(analyze(hass, entry))
    await wait_for(lambda: coordinator.analyzing)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(HomeAssistantError):
        await task
    assert results_file(config_dir, entry).read_text() == before
    assert coordinator.data.decisions[PAIR_ID].status == "dismissed"

    await wait_for(lambda: supervisor.pid not in (None, pid) and coordinator.connected)
    await analyze(hass, entry)
    assert stored_decisions(config_dir, entry) == {PAIR_ID: "dismissed"}
    # The log tells the story once per change: reachable (not "again" at start), lost, back.
    reachability = [
        m for m in caplog.messages if m.startswith("HomeIQ sidecar is ") and "reach" in m
    ]
    assert reachability[0] == "HomeIQ sidecar is reachable"
    assert reachability[-1] == "HomeIQ sidecar is reachable again"
    assert any(m.startswith("HomeIQ sidecar is unavailable") for m in caplog.messages)
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("fast_supervisor")
async def test_sidecar_killed_during_start(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """kill -9 before the ready line: logged with its output, restarted, then reachable."""
    entry = managed_config_entry
    entry.add_to_hass(hass)
    await setup(hass, entry)
    coordinator = entry.runtime_data.coordinator
    supervisor = entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await wait_for(lambda: supervisor.pid is not None, timeout=10)
    first = supervisor.pid
    assert first is not None
    assert supervisor.url is None  # still starting (importing), no ready line yet
    os.kill(first, signal.SIGKILL)

    await wait_for(lambda: supervisor.restarts >= 1)
    assert "-9" in str(supervisor.last_error)
    assert "HomeIQ sidecar did not start" in caplog.text or "exited with code -9" in caplog.text
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(PATTERNS_SENSOR) is not None
    await wait_for(lambda: coordinator.connected and supervisor.pid != first)
    assert hass.states.get("binary_sensor.homeiq_sidecar").state == "on"
    await hass.config_entries.async_unload(entry.entry_id)


# The run is cancelled while the executor makes the body's temporary file: dropping that open
# file unclosed shows as a ResourceWarning when it is collected (raised here as an error).
@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
async def test_restart_during_analysis(
    hass: HomeAssistant,
    config_dir: Path,
    with_decision: MockConfigEntry,
    sidecar_url: str,
) -> None:
    """HA stops while an analysis waits on the sidecar: the run is dropped, nothing half-saved,
    and the next start shows the previous results and every decision."""
    entry = with_decision
    coordinator = entry.runtime_data.coordinator
    patterns_before = hass.states.get(PATTERNS_SENSOR).state
    before = results_file(config_dir, entry).read_text()
    release = hass.loop.create_future()
    real_analyze = type(coordinator.sidecar.client).analyze

    async def slow_analyze(self: Any, body: Any) -> Any:
        await release  # the sidecar is busy; HA stops meanwhile
        return await real_analyze(self, body)

    type(coordinator.sidecar.client).analyze = slow_analyze
    try:
        task = hass.async_create_task(analyze(hass, entry))
        await wait_for(lambda: coordinator.analyzing)
        # What HA does on stop: the stop event, then every entry unloads (tasks cancelled).
        hass.bus.async_fire("homeassistant_stop")
        assert await hass.config_entries.async_unload(entry.entry_id)
        # The caller gets an answer (a UI call would otherwise wait forever), translated.
        with pytest.raises(HomeAssistantError) as err:
            await task
        assert err.value.translation_key == "analysis_cancelled"
    finally:
        type(coordinator.sidecar.client).analyze = real_analyze
        if not release.done():
            release.set_result(None)
    assert results_file(config_dir, entry).read_text() == before

    await setup(hass, entry)
    assert hass.states.get(PATTERNS_SENSOR).state == patterns_before
    restored = entry.runtime_data.coordinator.data
    assert restored.decisions[HABIT_ID].status == "dismissed"
    await analyze(hass, entry)  # and the next run works
    assert stored_decisions(config_dir, entry) == {HABIT_ID: "dismissed"}


async def test_removing_the_entry_removes_the_copy(
    hass: HomeAssistant, config_dir: Path, with_decision: MockConfigEntry
) -> None:
    """The decisions' copy leaves with the entry: a new entry starts clean."""
    entry = with_decision
    copy = results_file(config_dir, entry).with_name(f"{DOMAIN}.{entry.entry_id}.decisions")
    assert copy.exists()
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not copy.exists()
    assert not results_file(config_dir, entry).exists()
