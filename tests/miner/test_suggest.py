"""Domain + state -> the service call that reproduces it."""

from __future__ import annotations

import pytest

from homeiq_miner.suggest import action_for, chain_suggestion, time_suggestion


@pytest.mark.parametrize(
    ("entity_id", "state", "action", "data"),
    [
        ("light.a", "on", "light.turn_on", None),
        ("switch.a", "off", "switch.turn_off", None),
        ("fan.a", "on", "fan.turn_on", None),
        ("input_boolean.a", "off", "input_boolean.turn_off", None),
        ("cover.a", "closed", "cover.close_cover", None),
        ("cover.a", "open", "cover.open_cover", None),
        ("lock.a", "locked", "lock.lock", None),
        ("lock.a", "unlocked", "lock.unlock", None),
        ("media_player.a", "off", "media_player.turn_off", None),
        ("media_player.a", "playing", "media_player.media_play", None),
        ("media_player.a", "paused", "media_player.media_pause", None),
        ("climate.a", "heat", "climate.set_hvac_mode", {"hvac_mode": "heat"}),
        ("input_select.a", "Movie", "input_select.select_option", {"option": "Movie"}),
        ("vacuum.a", "cleaning", "vacuum.start", None),
    ],
)
def test_action_for(entity_id: str, state: str, action: str, data: dict | None) -> None:
    got = action_for(entity_id, state)
    assert got is not None
    assert got["action"] == action
    assert got["target"] == {"entity_id": entity_id}
    assert got.get("data") == data


@pytest.mark.parametrize(
    ("entity_id", "state"),
    [
        ("binary_sensor.a", "on"),
        ("sensor.a", "high"),
        ("device_tracker.a", "home"),
        ("person.a", "home"),
        ("weather.home", "rainy"),
        ("light.a", "dim"),
        ("climate.a", "warm"),
    ],
)
def test_cannot_be_commanded(entity_id: str, state: str) -> None:
    assert action_for(entity_id, state) is None


def test_time_and_chain_shapes() -> None:
    t = time_suggestion(
        alias="a",
        description="d",
        targets=[("light.a", "on")],
        hhmm="07:05",
        weekdays=[0, 1, 2, 3, 4],
    )
    assert t is not None
    assert t["triggers"] == [{"trigger": "time", "at": "07:05:00"}]
    assert t["conditions"] == [
        {"condition": "time", "weekday": ["mon", "tue", "wed", "thu", "fri"]}
    ]
    assert (
        time_suggestion(
            alias="a", description="d", targets=[("sensor.a", "x")], hhmm="07:05", weekdays=[0]
        )
        is None
    )
    # One command, several targets: each commandable one gets its action, in order.
    both = time_suggestion(
        alias="a",
        description="d",
        targets=[("light.a", "on"), ("sensor.b", "x"), ("switch.c", "off")],
        hhmm="07:05",
        weekdays=[0],
    )
    assert both is not None
    assert both["actions"] == [
        {"action": "light.turn_on", "target": {"entity_id": "light.a"}},
        {"action": "switch.turn_off", "target": {"entity_id": "switch.c"}},
    ]
    c = chain_suggestion(
        alias="a",
        description="d",
        steps=[("binary_sensor.door", "off"), ("lock.back", "locked")],
        delays_s=[120.4],
        min_delay_s=60,
    )
    assert c is not None
    assert c["actions"] == [
        {"delay": {"seconds": 120}},
        {"action": "lock.lock", "target": {"entity_id": "lock.back"}},
    ]
    assert (
        chain_suggestion(
            alias="a",
            description="d",
            steps=[("light.a", "on"), ("sensor.b", "x")],
            delays_s=[1],
            min_delay_s=60,
        )
        is None
    )
