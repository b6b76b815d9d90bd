"""A decision follows its habit: the id ignores a time habit's drift, the decision does not."""

from __future__ import annotations

from typing import Any

from custom_components.homeiq.data import HomeIQData

TIME_HABIT: dict[str, Any] = {
    "id": "tod-x",
    "type": "time_of_day",
    "steps": [{"entity_id": "light.porch", "state": "off"}],
    "time": "23:50",
    "weekdays": [0, 1, 2, 3, 4, 5, 6],
    "delay_s": None,
    "suggestion": {"alias": "x"},
    "automated": False,
}


def test_dismissed_time_habit_stays_dismissed_while_it_drifts() -> None:
    data = HomeIQData(patterns=[TIME_HABIT])
    data.decide(TIME_HABIT, "dismissed", None)
    for now in ("23:50", "23:05", "00:20", "01:15"):  # within 90 minutes, across midnight too
        assert data.status({**TIME_HABIT, "time": now}) == "dismissed", now


def test_time_habit_elsewhere_in_the_day_is_new_again() -> None:
    # The same id can come to name another habit (a new earlier one takes its place).
    data = HomeIQData(patterns=[TIME_HABIT])
    data.decide(TIME_HABIT, "dismissed", None)
    for now in ("07:00", "21:55", "01:25"):
        assert data.status({**TIME_HABIT, "time": now}) == "new", now


def test_decision_time_survives_the_store_and_older_files_still_load() -> None:
    data = HomeIQData(patterns=[TIME_HABIT])
    data.decide(TIME_HABIT, "accepted", "homeiq_tod_x")
    restored = HomeIQData.from_store(data.to_store())
    assert restored.decisions["tod-x"].time == "23:50"
    assert restored.status({**TIME_HABIT, "time": "07:00"}) == "new"

    stored = data.to_store()
    del stored["decisions"]["tod-x"]["time"]  # written before decisions kept the time
    older = HomeIQData.from_store(stored)
    assert older.decisions["tod-x"].time is None
    assert older.status({**TIME_HABIT, "time": "07:00"}) == "accepted"


def test_sun_habit_stays_decided_through_the_seasons() -> None:
    """ "15 min after sunset" is at 20:40 in August and 16:45 in December: the same habit. The
    decision follows the offset from the sun, not the clock."""
    august = {**TIME_HABIT, "time": "20:40", "sun": {"event": "sunset", "offset_min": 15}}
    data = HomeIQData(patterns=[august])
    data.decide(august, "dismissed", None)
    december = {**august, "time": "16:45"}
    assert data.status(december) == "dismissed"
    # Two hours after sunset is another habit, as 20:40 -> 22:40 is by the clock.
    later = {**december, "sun": {"event": "sunset", "offset_min": 135}}
    assert data.status(later) == "new"
    restored = HomeIQData.from_store(data.to_store())
    assert restored.status(december) == "dismissed"


def test_sun_habit_found_by_the_clock_near_a_solstice_keeps_its_decision() -> None:
    """Near the solstices sunset barely moves and the miner finds "15 min after sunset" by the
    clock: measured from that day's sunset (`sun_minutes`, added at analysis), it is the habit
    the user decided on, whichever of the two was found first."""
    october = {
        **TIME_HABIT,
        "time": "18:40",
        "sun": {"event": "sunset", "offset_min": 15},
        "sun_minutes": {"sunrise": 470, "sunset": 1105},
    }
    december = {  # sunset at 15:10 (60 N): 15:25 is 3 h 15 min from October's 18:40
        **TIME_HABIT,
        "time": "15:25",
        "sun": None,
        "sun_minutes": {"sunrise": 560, "sunset": 910},
    }
    data = HomeIQData(patterns=[october])
    data.decide(october, "dismissed", None)
    assert data.status(december) == "dismissed"
    # Two hours after that sunset is another habit.
    assert data.status({**december, "time": "17:25"}) == "new"
    # Without the sun's times (a pattern stored before they were added) only the clock counts.
    assert data.status({**december, "sun_minutes": None}) == "new"

    # Decided by the clock in December, found by the sun in spring.
    data = HomeIQData(patterns=[december])
    data.decide(december, "dismissed", None)
    restored = HomeIQData.from_store(data.to_store())
    march = {**october, "time": "19:10", "sun": {"event": "sunset", "offset_min": 20}}
    assert restored.status(march) == "dismissed"
    assert restored.status({**march, "sun": {"event": "sunrise", "offset_min": 20}}) == "new"
