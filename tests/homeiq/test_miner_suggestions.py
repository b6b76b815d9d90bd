"""Every suggestion the miner makes for a planted home passes Home Assistant's own validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
import time
from typing import Any

from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockUser, async_mock_service
import voluptuous as vol

from homeiq_miner import Event as MinerEvent, Location, mine
from homeiq_miner.suggest import chain_suggestion
from homeiq_miner.synth import make_home, sunset_home


def _suggestions() -> list[dict[str, Any]]:
    home = make_home(21, days=35, rooms=1)
    result = mine(
        home.events(), time_zone=home.time_zone, automation_context_ids=home.automation_context_ids
    )
    return [p["suggestion"] for p in result.patterns if p["suggestion"] is not None]


async def test_every_suggestion_is_valid_automation_config(hass: HomeAssistant) -> None:
    suggestions = _suggestions()
    kinds = {s["triggers"][0]["trigger"] for s in suggestions}
    assert kinds == {"time", "state"}, kinds
    assert any("delay" in a for s in suggestions for a in s["actions"])
    assert any(s["conditions"] for s in suggestions)
    for config in suggestions:
        validated = await async_validate_config_item(hass, "suggestion", config)
        assert validated is not None, config
        assert getattr(validated, "validation_error", None) is None, (config, validated)


async def test_sun_habit_is_valid_automation_config(hass: HomeAssistant) -> None:
    """A habit after sunset becomes HA's sun trigger with an offset HA accepts."""
    where = Location(52.37, 4.89)
    rows = sunset_home(where, time_zone="Europe/Amsterdam", start=date(2024, 9, 1))
    (porch,) = [
        p for p in mine(rows, time_zone="Europe/Amsterdam", location=where).patterns if p.get("sun")
    ]
    validated = await async_validate_config_item(hass, "sun_habit", porch["suggestion"])
    assert validated is not None
    assert getattr(validated, "validation_error", None) is None
    (trigger,) = porch["suggestion"]["triggers"]
    assert trigger["trigger"] == "sun"


@pytest.mark.parametrize(
    "bad",
    [
        {"triggers": [{"trigger": "time", "at": "25:99:00"}], "actions": []},
        {
            "triggers": [{"trigger": "state", "entity_id": "not an entity", "to": "on"}],
            "actions": [],
        },
        {
            "triggers": [{"trigger": "time", "at": "07:00:00"}],
            "conditions": [{"condition": "time", "weekday": ["funday"]}],
            "actions": [],
        },
        {
            "triggers": [{"trigger": "time", "at": "07:00:00"}],
            "actions": [{"action": "light turn on"}],
        },
    ],
)
async def test_validation_rejects_broken_configs(hass: HomeAssistant, bad: dict[str, Any]) -> None:
    # Shows the check above can fail: HA raises on an invalid automation.
    with pytest.raises(vol.Invalid):
        await async_validate_config_item(hass, "bad", bad)


async def test_state_trigger_ignores_restored_states(hass: HomeAssistant) -> None:
    """A suggested "A then B" runs on a real change of A, not when HA restores A at start-up."""
    config = next(
        s
        for s in _suggestions()
        if s["triggers"][0]["trigger"] == "state"
        and not any("delay" in a for a in s["actions"])
        and s["actions"][0]["action"].endswith(".turn_on")
    )
    trigger = config["triggers"][0]
    domain, service = config["actions"][0]["action"].split(".")
    calls = async_mock_service(hass, domain, service)
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()

    entity = trigger["entity_id"]
    for restored_from in ("unavailable", "unknown"):
        hass.states.async_set(entity, restored_from)
        await hass.async_block_till_done()
        hass.states.async_set(entity, trigger["to"])
        await hass.async_block_till_done()
    assert calls == []

    hass.states.async_set(entity, "off" if trigger["to"] != "off" else "on")
    await hass.async_block_till_done()
    hass.states.async_set(entity, trigger["to"])
    await hass.async_block_till_done()
    assert len(calls) == 1


async def test_scene_trigger_runs_on_each_activation(hass: HomeAssistant) -> None:
    """A suggested "scene X, then B" runs on every activation of the real scene (its state is
    the activation time), not on an attribute update, nor when the scene goes away or is
    removed (a reload of scenes). The very first activation ever starts from `unknown`, like
    a device coming back, and is left out."""
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"tv": {}}})
    assert await async_setup_component(
        hass, "scene", {"scene": [{"name": "movie", "entities": {"input_boolean.tv": "on"}}]}
    )
    calls = async_mock_service(hass, "light", "turn_off")
    config = chain_suggestion(
        alias="movie",
        description="The hall light turns off after the movie scene.",
        steps=[("scene.movie", "activated"), ("light.hall", "off")],
        delays_s=[5.0],
        min_delay_s=60.0,
    )
    assert config is not None
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    for expected in (0, 1, 2):
        await hass.services.async_call(
            "scene", "turn_on", {"entity_id": "scene.movie"}, blocking=True
        )
        await hass.async_block_till_done()
        assert len(calls) == expected
    state = hass.states.get("scene.movie")
    assert state is not None
    hass.states.async_set("scene.movie", state.state, {"extra": 1})
    hass.states.async_remove("scene.movie")
    hass.states.async_set("scene.movie", state.state)
    hass.states.async_set("scene.movie", "unavailable")
    await hass.async_block_till_done()
    assert len(calls) == 2


async def test_event_entity_trigger_runs_on_each_event(hass: HomeAssistant) -> None:
    """A suggested "doorbell, then the porch light" runs on every ring of an event entity (its
    state is the event's time, its type an attribute), with the config HA validates, not when
    only the attributes change nor when the entity goes away or comes back (a reload)."""
    calls = async_mock_service(hass, "light", "turn_on")
    config = chain_suggestion(
        alias="doorbell",
        description="The porch light turns on after the doorbell rings.",
        steps=[("event.doorbell", "triggered"), ("light.porch", "on")],
        delays_s=[30.0],
        min_delay_s=60.0,
    )
    assert config is not None
    await async_validate_config_item(hass, "doorbell", config)
    hass.states.async_set("event.doorbell", "2026-11-27T17:00:00.000+00:00", {"event_type": "ring"})
    assert await async_setup_component(hass, "automation", {"automation": [config]})
    await hass.async_block_till_done()
    for expected, minute in ((1, 1), (2, 2)):
        hass.states.async_set(
            "event.doorbell", f"2026-11-27T18:0{minute}:00.000+00:00", {"event_type": "ring"}
        )
        await hass.async_block_till_done()
        assert len(calls) == expected
    ring = hass.states.get("event.doorbell")
    assert ring is not None
    hass.states.async_set("event.doorbell", ring.state, {"event_type": "ring", "extra": 1})
    hass.states.async_remove("event.doorbell")
    hass.states.async_set("event.doorbell", ring.state, {"event_type": "ring"})
    hass.states.async_set("event.doorbell", "unavailable")
    await hass.async_block_till_done()
    assert len(calls) == 2


async def test_one_command_in_home_assistant_is_no_habit(
    hass: HomeAssistant, hass_admin_user: MockUser
) -> None:
    """A scene switches two helpers in the caller's context, and a light group follows its
    member in the member's context: HA's own entities, recorded as HA writes them, give the
    miner no "B right after A" habit (the same rows without contexts would), and a scene
    activated every evening is a habit of its own."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"sofa": {}, "reading": {}}}
    )
    assert await async_setup_component(
        hass,
        "scene",
        {
            "scene": [
                {
                    "name": "evening",
                    "entities": {"input_boolean.sofa": "on", "input_boolean.reading": "on"},
                },
                {
                    "name": "night",
                    "entities": {"input_boolean.sofa": "off", "input_boolean.reading": "off"},
                },
            ]
        },
    )
    assert await async_setup_component(
        hass,
        "light",
        {
            "light": [
                {
                    "platform": "group",
                    "name": "Hall",
                    "entities": ["light.hall_lamp", "light.hall_spot"],
                }
            ]
        },
    )
    hass.states.async_set("light.hall_spot", "off")
    await hass.async_block_till_done()

    seen: list[tuple[float, str, str, str]] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            seen.append((time.time(), new.entity_id, new.state, new.context.id))

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    events: list[MinerEvent] = []
    for day in range(14):
        evening = datetime(2026, 1, 5, 19, tzinfo=UTC).timestamp() + day * 86400 + day * 97
        user = Context(user_id=hass_admin_user.id)
        # The scene in the evening, the hall lamp (and its group) three hours later: each
        # command's rows keep HA's order and spacing, a few minutes from "on" to "off".
        for base, on, off in (
            (evening, ("scene", "evening"), ("scene", "night")),
            (evening + 3 * 3600, ("lamp", "on"), ("lamp", "off")),
        ):
            for late, (kind, what) in ((0.0, on), (600.0, off)):
                seen.clear()
                if kind == "scene":
                    await hass.services.async_call(
                        "scene", "turn_on", {"entity_id": f"scene.{what}"}, blocking=True,
                        context=user,
                    )  # fmt: skip
                else:
                    hass.states.async_set("light.hall_lamp", what, context=Context())
                await hass.async_block_till_done()
                first = seen[0][0]
                events += [
                    MinerEvent(base + late + (ts - first) + n * 0.01, entity_id, state, ctx_id)
                    for n, (ts, entity_id, state, ctx_id) in enumerate(seen)
                ]
    assert {e.entity_id for e in events} >= {
        "input_boolean.sofa",
        "input_boolean.reading",
        "light.hall",
        "scene.evening",
    }
    # A scene's state is the time of its activation, written in the caller's context.
    scene_rows = [e for e in events if e.entity_id == "scene.evening"]
    assert len({e.state for e in scene_rows}) == 14
    assert all(e.context_id for e in scene_rows)

    def pairs(rows: list[MinerEvent]) -> set[frozenset[str]]:
        found = mine(rows, time_zone="UTC").patterns
        return {
            frozenset(s["entity_id"] for s in p["steps"])
            for p in found
            if p["type"] == "trigger_action"
        }

    without_contexts = pairs([MinerEvent(e.ts, e.entity_id, e.state) for e in events])
    assert any("input_boolean.sofa" in pair for pair in without_contexts)
    assert frozenset({"light.hall_lamp", "light.hall"}) in without_contexts
    assert pairs(events) == set()

    # Each scene is one time habit, activating it (it sets both helpers), and the lamp's is
    # the lamp's (its group, as HA lists it, follows): valid automations for HA.
    groups = {"light.hall": list(hass.states.get("light.hall").attributes["entity_id"])}
    habits = [
        p
        for p in mine(events, time_zone="UTC", groups=groups).patterns
        if p["type"] == "time_of_day" and p["steps"][0]["state"] != "off"
    ]
    assert {
        frozenset([p["steps"][0]["entity_id"], *(t["entity_id"] for t in p["together"])])
        for p in habits
    } == {frozenset({"scene.evening"}), frozenset({"scene.night"}), frozenset({"light.hall_lamp"})}
    for habit in habits:
        validated = await async_validate_config_item(hass, habit["id"], habit["suggestion"])
        assert validated is not None
        assert getattr(validated, "validation_error", None) is None
    evening = next(p for p in habits if p["steps"][0]["entity_id"] == "scene.evening")
    assert evening["suggestion"]["actions"] == [
        {"action": "scene.turn_on", "target": {"entity_id": "scene.evening"}}
    ]
