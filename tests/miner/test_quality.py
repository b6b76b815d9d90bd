"""Synthetic homes with planted habits: the issue's quality targets, over several seeds."""

from __future__ import annotations

import pytest

from homeiq_miner import Location, mine
from homeiq_miner.evaluate import score
from homeiq_miner.synth import make_home


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_planted_habits(seed: int) -> None:
    home = make_home(seed, days=42, rooms=2)
    result = mine(
        home.events(), time_zone=home.time_zone, automation_context_ids=home.automation_context_ids
    )
    s = score(result.patterns, home.planted)
    assert s["recall"] >= 0.95, s["missed"]
    assert s["precision"] >= 0.9, s["wrong_suggestions"]
    assert s["direction_errors"] == 0
    assert s["existing_resuggested"] == 0
    assert s["existing_found_as_automated"] == s["existing"]


def test_scorer_can_fail() -> None:
    home = make_home(1, days=14, rooms=1)
    s = score([], home.planted)
    assert s["recall"] == 0.0
    fake = {
        "type": "trigger_action",
        "steps": [
            {"entity_id": "light.hall_0", "state": "on"},
            {"entity_id": "binary_sensor.front_door_0", "state": "on"},
        ],
        "suggestion": {"x": 1},
        "automated": False,
        "description": "reversed",
    }
    s = score([fake], home.planted)
    assert s["direction_errors"] == 1
    assert s["precision"] == 0.0


@pytest.mark.parametrize(
    ("seed", "days", "rooms"), [(0, 42, 2), (2, 42, 2), (12, 42, 2), (5, 6, 16)]
)
def test_no_sun_habits_where_none_were_planted(seed: int, days: int, rooms: int) -> None:
    """The synthetic homes keep clock habits only (March: sunrise and sunset move 2 min a day,
    so chance peaks on a sun clock are easy; over six days the sun clock is the clock plus
    noise): with a location, the same patterns."""
    home = make_home(seed, days=days, rooms=rooms)

    def patterns(location: Location | None) -> list[dict]:
        return mine(
            home.events(),
            time_zone=home.time_zone,
            automation_context_ids=home.automation_context_ids,
            location=location,
        ).patterns

    located = patterns(Location(52.37, 4.89))
    assert [p["sun"] for p in located if p["sun"]] == []
    assert [p["id"] for p in located] == [p["id"] for p in patterns(None)]
