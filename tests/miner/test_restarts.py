"""Home Assistant's start-ups: their simultaneous writes are no habit, and lose no change."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from homeiq_miner import Event, MinerConfig, Restarts, mine
from homeiq_miner.readers import read_restarts
from homeiq_miner.table import build_table, startup_windows

from .conftest import write_recorder_db

DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def _restarting_home(days: int = 10) -> tuple[list[Event], Restarts]:
    """Two template switches that stay on; HA restarts daily at 04:00 and writes each of them
    "off" then "on" at start-up (as template entities do), all in the same second."""
    events = [Event(T0 - 60, "switch.left", "on"), Event(T0 - 60, "switch.right", "on")]
    starts, started = [], []
    for day in range(days):
        boot = T0 + day * DAY + 4 * 3600
        starts.append(boot)
        events += [
            Event(boot + 5.0, "switch.left", "off"),
            Event(boot + 5.1, "switch.right", "off"),
            Event(boot + 6.0, "switch.left", "on"),
            Event(boot + 6.1, "switch.right", "on"),
        ]
        started.append(boot + 5.9)
    return events, Restarts(recorder_starts=starts, started=started)


def test_start_up_writes_are_no_habit() -> None:
    events, restarts = _restarting_home()
    blind = mine(events, time_zone="UTC")
    # Without knowing the starts, the switches "follow each other" every morning at 04:00.
    assert {"switch.left", "switch.right"} <= {
        step["entity_id"] for p in blind.patterns for step in p["steps"]
    }
    seen = mine(events, time_zone="UTC", restarts=restarts)
    assert seen.patterns == []
    assert seen.stats["startup_rows"] == 40
    assert seen.stats["events_used"] == 2  # the two first states, before any start


def test_change_made_while_ha_was_down_is_kept() -> None:
    """A start-up row is the state the next change starts from, not a deleted row: the light
    turned off while HA was down and on again an hour later gives that "on" as a change."""
    events = [
        Event(T0, "light.hall", "on"),
        Event(T0 + 100, "light.hall", "off"),  # at start-up: changed while HA was down
        Event(T0 + 3700, "light.hall", "on"),
        Event(T0 + 3800, "light.hall", "on"),  # a repeat stays no change
    ]
    restarts = Restarts(recorder_starts=[T0 + 90], started=[T0 + 95])
    table = build_table(events, zone=ZoneInfo("UTC"), config=MinerConfig(), restarts=restarts)
    assert table.ts.tolist() == [T0, T0 + 3700]
    assert table.startup_rows == 1


def test_windows_from_run_starts_and_started_events() -> None:
    grace = MinerConfig().startup_grace_s
    windows = startup_windows(
        Restarts(
            # a start that never finished (no started before the next run), a normal one, and
            # one whose start-up overlaps the previous window
            recorder_starts=[1000.0, 500.0, 1010.0],
            started=[520.0, 1030.0, 9999.0],
        ),
        grace,
    )
    assert windows == [(500.0, 520.0 + grace), (1000.0, 1030.0 + grace)]
    assert startup_windows(Restarts(), grace) == []


def test_recorder_db_restarts_reach_the_miner(tmp_path: Path) -> None:
    events, restarts = _restarting_home(days=6)
    db = write_recorder_db(
        tmp_path / "home-assistant_v2.db",
        [(e.ts, e.entity_id, e.state, None, None, False) for e in events],
        starts=list(zip(restarts.recorder_starts, restarts.started, strict=True)),
    )
    read = read_restarts(db)
    assert read.recorder_starts == restarts.recorder_starts
    assert sorted(read.started) == list(restarts.started)
    recent = read_restarts(db, days=2.5, now=T0 + 6 * DAY)
    assert len(recent.recorder_starts) == len(recent.started) == 2
