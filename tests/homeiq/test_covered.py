"""Suggestions the user's own automations already do are not suggested (covered.py).

Real HA automations, loaded from automations.yaml and reloaded as the editor does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
    label_registry as lr,
)
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import dump
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.homeiq.const import DOMAIN
from custom_components.homeiq.coordinator import RELOAD_SETTLE_S
from custom_components.homeiq.diagnostics import async_get_config_entry_diagnostics

pytestmark = pytest.mark.usefixtures("recorder_mock")


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA's time triggers keep their timers until HA stops, after the test's end."""
    return True


HABIT = "tod-light-kitchen-on-0700"  # light.kitchen on around 07:00 every day
PAIR = "ta-door-hallway"  # light.hallway on after binary_sensor.front_door on

# Near misses: each differs from a suggestion in one thing that makes it another habit.
NEAR_MISSES: list[dict[str, Any]] = [
    {  # another time of day
        "id": "noon",
        "triggers": [{"trigger": "time", "at": "12:00:00"}],
        "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.kitchen"}}],
    },
    {  # the same time, the other way
        "id": "kitchen_off",
        "triggers": [{"trigger": "time", "at": "07:00:00"}],
        "actions": [{"action": "light.turn_off", "target": {"entity_id": "light.kitchen"}}],
    },
    {  # the door closing, not opening
        "id": "door_closes",
        "triggers": [{"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "off"}],
        "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.hallway"}}],
    },
    {  # the door opening, another light
        "id": "door_porch",
        "triggers": [{"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"}],
        "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.porch"}}],
    },
]
# What a user writes for the same habits: another minute, old keys, nested actions.
COVERING: list[dict[str, Any]] = [
    {
        "id": "morning",
        "alias": "Morning kitchen",
        "trigger": [{"platform": "time", "at": ["06:00:00", "07:20"]}],
        "action": [
            {
                "choose": [
                    {
                        "conditions": [{"condition": "state", "entity_id": "sun.sun", "state": "below_horizon"}],
                        "sequence": [{"service": "light.turn_on", "entity_id": "light.kitchen"}],
                    }
                ]
            }
        ],
    },
    {
        "id": "door_light",
        "alias": "Door light",
        "triggers": [{"trigger": "state", "entity_id": ["binary_sensor.front_door"]}],
        "actions": [
            {"action": "homeassistant.turn_on", "target": {"entity_id": "light.porch, light.hallway"}}
        ],
    },
]  # fmt: skip


async def _automations(hass: HomeAssistant, config_dir: Path, items: list[dict[str, Any]]) -> None:
    """automations.yaml holds these, and HA has (re)loaded them, as after saving in the editor."""
    if "automation" not in hass.config.components:
        assert await async_setup_component(hass, "automation", {})
    (config_dir / "automations.yaml").write_text(dump(items) if items else "[]\n")
    await hass.services.async_call("automation", "reload", blocking=True)
    await hass.async_block_till_done()


def _register(hass: HomeAssistant, entity_id: str, area_id: str | None = None) -> tuple[str, str]:
    """The entity on a device of its own, in the area if given: (device id, registry id)."""
    owner = MockConfigEntry(domain="test")
    owner.add_to_hass(hass)
    devices, entities = dr.async_get(hass), er.async_get(hass)
    domain, name = entity_id.split(".")
    device = devices.async_get_or_create(
        config_entry_id=owner.entry_id, identifiers={("test", name)}
    )
    devices.async_update_device(device.id, area_id=area_id)
    entry = entities.async_get_or_create(
        domain, "test", name, suggested_object_id=name, device_id=device.id
    )
    assert entry.entity_id == entity_id
    return device.id, entry.id


async def _new(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    result = await hass.services.async_call(
        DOMAIN,
        "get_suggestions",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert isinstance(result, dict)
    return [s["id"] for s in result["suggestions"]]


async def test_an_automation_the_user_has_is_not_suggested(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """Near misses leave both suggestions; the user's own versions take them away at the
    next reload of automations, and deleting those brings them back."""
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]
    await _automations(hass, config_dir, NEAR_MISSES)
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]
    assert hass.states.get("sensor.homeiq_new_suggestions").state == "2"

    await _automations(hass, config_dir, NEAR_MISSES + COVERING)
    assert await _new(hass, loaded_with_results) == []
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {
        HABIT: "automation.morning_kitchen",
        PAIR: "automation.door_light",
    }
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_with_results)
    assert diagnostics["analysis"]["covered"] == 2
    # The entities follow at once, without a new analysis.
    assert hass.states.get("sensor.homeiq_new_suggestions").state == "0"
    # Turned off, it is still the user's: not suggested again at the next reload.
    await hass.services.async_call(
        "automation", "turn_off", {"entity_id": "automation.morning_kitchen"}, blocking=True
    )
    await hass.services.async_call("automation", "reload", blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get("automation.morning_kitchen").state == "off"
    assert coordinator.data.covered[HABIT] == "automation.morning_kitchen"
    # A card still showing it gets told why it cannot be accepted.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "accept_suggestion",
            {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": PAIR},
            blocking=True,
        )
    assert err.value.translation_key == "suggestion_covered"
    assert err.value.translation_placeholders == {
        "suggestion_id": PAIR,
        "automation": "automation.door_light",
    }

    await _automations(hass, config_dir, NEAR_MISSES)
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]
    assert hass.states.get("sensor.homeiq_new_suggestions").state == "2"


async def test_an_accepted_suggestion_is_not_covered_by_its_own_automation(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """Accepting writes an automation that does the suggestion: it stays 'accepted', it is
    not 'an automation the user already had'."""
    await _automations(hass, config_dir, [])
    await hass.services.async_call(
        DOMAIN,
        "accept_suggestion",
        {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": HABIT},
        blocking=True,
    )
    await hass.async_block_till_done()
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {}
    result = await hass.services.async_call(
        DOMAIN,
        "get_suggestions",
        {"config_entry_id": loaded_with_results.entry_id, "status": "accepted"},
        blocking=True,
        return_response=True,
    )
    assert isinstance(result, dict)
    assert [s["id"] for s in result["suggestions"]] == [HABIT]


async def test_device_and_area_targets_count(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """What the automation editor writes when the user picks a device or an area: the lights
    behind them, as HA's registries place them, are the ones switched, and a door's device
    trigger "opened" is its state trigger to "on"."""
    hall = ar.async_get(hass).async_create("Hall")
    porch = ar.async_get(hass).async_create("Porch")
    ids = {
        name: _register(hass, entity_id, area)
        for name, entity_id, area in (
            ("hallway", "light.hallway", hall.id),
            ("kitchen", "light.kitchen", None),
            ("front_door", "binary_sensor.front_door", None),
        )
    }
    door = {"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"}

    def door_device(kind: str) -> dict[str, Any]:
        """The editor's device trigger on the front door ("opened", "not_opened")."""
        device_id, entity_registry_id = ids["front_door"]
        return {
            "trigger": "device",
            "domain": "binary_sensor",
            "device_id": device_id,
            "entity_id": entity_registry_id,
            "type": kind,
        }

    await _automations(
        hass,
        config_dir,
        [
            {  # the door closing, as a device trigger
                "id": "door_closed",
                "alias": "Door closed",
                "triggers": [door_device("not_opened")],
                "actions": [{"action": "light.turn_on", "target": {"area_id": hall.id}}],
            },
            {  # the porch has no hallway light: a near miss
                "id": "porch_area",
                "alias": "Porch by area",
                "triggers": [door],
                "actions": [{"action": "light.turn_on", "target": {"area_id": porch.id}}],
            },
        ],
    )
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]
    device_id, entity_registry_id = ids["kitchen"]
    await _automations(
        hass,
        config_dir,
        [
            {
                "id": "hall_area",
                "alias": "Hall by area",
                "triggers": [door_device("opened")],
                "actions": [{"action": "light.turn_on", "target": {"area_id": hall.id}}],
            },
            {
                "id": "kitchen_device",
                "alias": "Kitchen by device",
                "triggers": [{"trigger": "time", "at": "06:55:00"}],
                "actions": [
                    {
                        "device_id": device_id,
                        "domain": "light",
                        "entity_id": entity_registry_id,
                        "type": "turn_on",
                    }
                ],
            },
        ],
    )
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {
        HABIT: "automation.kitchen_by_device",
        PAIR: "automation.hall_by_area",
    }


def _motion_light(name: str, motion: str, light_target: dict[str, str]) -> dict[str, Any]:
    """An automation from the motion-light blueprint HA ships (the editor's "Blueprint")."""
    return {
        "id": name.lower().replace(" ", "_"),
        "alias": name,
        "use_blueprint": {
            "path": "homeassistant/motion_light.yaml",
            "input": {"motion_entity": motion, "light_target": light_target},
        },
    }


async def test_blueprints_floors_labels_and_time_helpers_count(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """The motion-light blueprint on the front door, a floor or a label as the target, and
    a time trigger at a time-only input_datetime do the habits; a dated input_datetime (it
    fires once), a floor without the light and a label on another light do not."""
    assert await async_setup_component(
        hass,
        "input_datetime",
        {
            "input_datetime": {
                "wake_up": {"has_time": True, "initial": "07:10"},
                "party": {"has_date": True, "has_time": True, "initial": "2026-12-24 07:00"},
            }
        },
    )
    floors, areas, labels = fr.async_get(hass), ar.async_get(hass), lr.async_get(hass)
    ground, upstairs = floors.async_create("Ground"), floors.async_create("Upstairs")
    hall = areas.async_create("Hall", floor_id=ground.floor_id)
    areas.async_create("Landing", floor_id=upstairs.floor_id)
    _register(hass, "light.hallway", hall.id)
    _register(hass, "light.kitchen")
    _register(hass, "light.porch")
    morning, evening = labels.async_create("Morning"), labels.async_create("Evening")
    entities = er.async_get(hass)
    entities.async_update_entity("light.kitchen", labels={morning.label_id})
    entities.async_update_entity("light.porch", labels={evening.label_id})

    def at_helper(name: str, helper: str, label_id: str) -> dict[str, Any]:
        return {
            "id": name.lower().replace(" ", "_"),
            "alias": name,
            "triggers": [{"trigger": "time", "at": helper}],
            "actions": [{"action": "light.turn_on", "target": {"label_id": label_id}}],
        }

    await _automations(
        hass,
        config_dir,
        [
            _motion_light(
                "Upstairs motion", "binary_sensor.front_door", {"floor_id": upstairs.floor_id}
            ),
            _motion_light("Porch motion", "binary_sensor.front_door", {"entity_id": "light.porch"}),
            at_helper("Party", "input_datetime.party", morning.label_id),
            at_helper("Evening lights", "input_datetime.wake_up", evening.label_id),
        ],
    )
    assert len(hass.states.async_entity_ids("automation")) == 4
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]

    await _automations(
        hass,
        config_dir,
        [
            _motion_light("Hall motion", "binary_sensor.front_door", {"floor_id": ground.floor_id}),
            at_helper("Wake up", "input_datetime.wake_up", morning.label_id),
        ],
    )
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {
        HABIT: "automation.wake_up",
        PAIR: "automation.hall_motion",
    }


async def test_time_triggers_at_an_alarm_sensor_or_with_an_offset_count(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """A time trigger at a timestamp sensor (a phone's next alarm) reads at the sensor's time
    of day, an offset moves it (for a helper too, as HA does); too far from the habit's
    07:00, a sensor that is not a timestamp, and an offset HA refuses do not cover. A new
    alarm or helper time counts without a reload of automations."""
    assert await async_setup_component(
        hass,
        "input_datetime",
        {"input_datetime": {"wake_up": {"has_time": True, "initial": "09:15"}}},
    )
    alarm = (dt_util.now() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    hass.states.async_set(
        "sensor.phone_next_alarm", alarm.isoformat(), {"device_class": "timestamp"}
    )
    hass.states.async_set("sensor.wake_text", "07:00:00")  # a time as text, not a timestamp

    def kitchen_at(name: str, at: object) -> dict[str, Any]:
        return {
            "id": name.lower().replace(" ", "_"),
            "alias": name,
            "triggers": [{"trigger": "time", "at": at}],
            "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.kitchen"}}],
        }

    await _automations(
        hass,
        config_dir,
        [
            kitchen_at("Alarm", "sensor.phone_next_alarm"),  # 09:30: 2.5 h after the habit
            kitchen_at(
                "Before wake", {"entity_id": "input_datetime.wake_up", "offset": "-00:30:00"}
            ),
            kitchen_at("Text", "sensor.wake_text"),
            kitchen_at("Bad", {"entity_id": "sensor.phone_next_alarm", "offset": "early"}),
        ],
    )
    assert len(hass.states.async_entity_ids("automation")) == 4
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]

    coordinator = loaded_with_results.runtime_data.coordinator
    for at, covering in (
        ({"entity_id": "sensor.phone_next_alarm", "offset": "-02:00:00"}, "automation.alarm"),
        ({"entity_id": "input_datetime.wake_up", "offset": {"hours": -2}}, "automation.alarm"),
        ([{"entity_id": "sensor.phone_next_alarm", "offset": -9000}, "12:00"], "automation.alarm"),
    ):
        await _automations(hass, config_dir, [kitchen_at("Alarm", at)])
        assert coordinator.data.covered == {HABIT: covering}, at
    # Set later, with no reload: the alarm three hours on takes the automation away from the
    # habit, the helper set to 07:05 brings its own automation to it (once changes settle).
    await _automations(
        hass,
        config_dir,
        [
            kitchen_at("Alarm", {"entity_id": "sensor.phone_next_alarm", "offset": -9000}),
            kitchen_at("Wake up", "input_datetime.wake_up"),  # 09:15 for now
        ],
    )
    assert coordinator.data.covered == {HABIT: "automation.alarm"}

    async def settled() -> None:
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=RELOAD_SETTLE_S + 1))
        await hass.async_block_till_done()

    later = (alarm + timedelta(hours=3)).isoformat()
    hass.states.async_set("sensor.phone_next_alarm", later, {"device_class": "timestamp"})
    await settled()
    assert coordinator.data.covered == {}
    await hass.services.async_call(
        "input_datetime",
        "set_datetime",
        {"entity_id": "input_datetime.wake_up", "time": "07:05:00"},
        blocking=True,
    )
    await settled()
    assert coordinator.data.covered == {HABIT: "automation.wake_up"}


async def test_sun_and_clock_triggers_cover_each_other(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """A sunrise automation serves a 07:00 habit measured when the sun rose at 06:40 (its
    offset counts); one at sunset does not. The other way round, a habit found by the sun
    (20 min after sunrise) is served by a time trigger at 07:10, not by one at 09:00. Each
    by the sun's times on the day the habit was measured (`sun_minutes`)."""
    coordinator = loaded_with_results.runtime_data.coordinator
    habit = next(p for p in coordinator.data.patterns if p["id"] == HABIT)
    habit["sun_minutes"] = {"sunrise": 6 * 60 + 40, "sunset": 16 * 60 + 45}

    def kitchen_on(name: str, trigger: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": name.lower().replace(" ", "_"),
            "alias": name,
            "triggers": [trigger],
            "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.kitchen"}}],
        }

    sunset = kitchen_on("Sunset", {"trigger": "sun", "event": "sunset"})
    for trigger, covering in (
        ({"trigger": "sun", "event": "sunrise"}, "automation.sunrise"),  # 06:40: 20 min off
        ({"platform": "sun", "event": "sunrise", "offset": "00:15:00"}, "automation.sunrise"),
        ({"trigger": "sun", "event": "sunrise", "offset": {"minutes": -90}}, None),  # 05:10
        ({"trigger": "sun", "event": "sunrise", "offset": "soon"}, None),  # HA refuses it
    ):
        await _automations(hass, config_dir, [sunset, kitchen_on("Sunrise", trigger)])
        assert coordinator.data.covered == ({HABIT: covering} if covering else {}), trigger

    habit["sun"] = {"event": "sunrise", "offset_min": 20}
    habit["suggestion"]["triggers"] = [{"trigger": "sun", "event": "sunrise", "offset": "00:20:00"}]
    for at, covering in (("07:10:00", "automation.clock"), ("09:00:00", None)):
        clock = kitchen_on("Clock", {"trigger": "time", "at": at})
        await _automations(hass, config_dir, [sunset, clock])
        assert coordinator.data.covered == ({HABIT: covering} if covering else {}), at
    # Without the sun's times of its day, a habit is compared with its own kind only.
    del habit["sun_minutes"]
    await _automations(hass, config_dir, [kitchen_on("Clock", {"trigger": "time", "at": "07:10"})])
    assert coordinator.data.covered == {}


async def test_scripts_an_automation_runs_count(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """An automation that runs a script (by its own action, or script.turn_on on it) does
    what the script does, through scripts that run scripts, however they loop; stopping a
    script, or a script that switches another light, does not do the habit."""

    def run(action: str, script: str | None = None) -> dict[str, Any]:
        return {"action": action} | ({"target": {"entity_id": script}} if script else {})

    def light_on(entity_id: str) -> dict[str, Any]:
        return run("light.turn_on", entity_id)

    scripts = {
        "porch_light": {"sequence": [light_on("light.porch")]},
        "hall_light": {"sequence": [light_on("light.hallway")]},
        "morning": {"sequence": [run("script.turn_on", "script.kitchen_on")]},
        "kitchen_on": {"sequence": [light_on("light.kitchen"), run("script.morning")]},
    }
    assert await async_setup_component(hass, "script", {"script": scripts})

    def automation(name: str, trigger: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
        return {"id": name, "alias": name, "triggers": [trigger], "actions": [action]}

    door = {"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"}
    seven = {"trigger": "time", "at": "07:00:00"}
    await _automations(
        hass,
        config_dir,
        [
            automation("porch", door, run("script.porch_light")),
            automation("stop_kitchen", seven, run("script.turn_off", "script.kitchen_on")),
        ],
    )
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]

    await _automations(
        hass,
        config_dir,
        [
            automation("hall", door, run("script.turn_on", "script.hall_light")),
            automation("breakfast", seven, run("script.morning")),
        ],
    )
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {HABIT: "automation.breakfast", PAIR: "automation.hall"}


async def test_a_script_edited_later_is_followed(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """Saving a script in the editor reloads scripts (no event of its own): the automation
    that runs it covers the habit once the script does it, and no longer once it is gone."""
    (config_dir / "configuration.yaml").write_text(
        "automation: !include automations.yaml\nscript: !include scripts.yaml\n"
    )
    coordinator = loaded_with_results.runtime_data.coordinator

    async def scripts(light: str | None) -> None:
        """scripts.yaml holds the hall script switching this light (or nothing), reloaded."""
        written = {"hall": {"sequence": [{"action": "light.turn_on", "entity_id": light}]}}
        (config_dir / "scripts.yaml").write_text(dump(written) if light else "{}\n")
        if "script" not in hass.config.components:
            assert await async_setup_component(hass, "script", {})
        await hass.services.async_call("script", "reload", blocking=True)
        await hass.async_block_till_done()
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=RELOAD_SETTLE_S + 1))
        await hass.async_block_till_done()

    await scripts("light.porch")
    door = {"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"}
    await _automations(
        hass,
        config_dir,
        [
            {
                "id": "hall",
                "alias": "Hall",
                "triggers": [door],
                "actions": [{"action": "script.hall"}],
            }
        ],
    )
    assert coordinator.data.covered == {}

    await scripts("light.hallway")
    assert coordinator.data.covered == {PAIR: "automation.hall"}
    assert await _new(hass, loaded_with_results) == [HABIT]

    await scripts(None)
    assert coordinator.data.covered == {}


async def test_scenes_an_automation_activates_count(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """Activating a scene the user made switches its lights as the scene has them: a scene
    with the hallway light on does the habit, one with it off does not, and an edit of the
    scene counts at its reload."""
    scenes = [
        {"name": "Welcome", "entities": {"light.hallway": "on", "light.porch": "off"}},
        {"name": "Night", "entities": {"light.hallway": "off"}},
    ]
    assert await async_setup_component(hass, "scene", {"scene": scenes})
    door = {"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"}

    def activate(scene: str) -> list[dict[str, Any]]:
        action = {"action": "scene.turn_on", "target": {"entity_id": scene}}
        return [{"id": scene, "alias": scene, "triggers": [door], "actions": [action]}]

    await _automations(hass, config_dir, activate("scene.night"))
    assert await _new(hass, loaded_with_results) == [HABIT, PAIR]
    await _automations(hass, config_dir, activate("scene.welcome"))
    coordinator = loaded_with_results.runtime_data.coordinator
    assert coordinator.data.covered == {PAIR: "automation.scene_welcome"}

    # The scene edited (the hallway light now off) and reloaded, as the scene editor does:
    # no longer the habit, without a reload of automations.
    (config_dir / "configuration.yaml").write_text(
        "automation: !include automations.yaml\nscene: !include scenes.yaml\n"
    )
    scenes[0]["entities"]["light.hallway"] = "off"
    (config_dir / "scenes.yaml").write_text(dump(scenes))
    await hass.services.async_call("scene", "reload", blocking=True)
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=RELOAD_SETTLE_S + 1))
    await hass.async_block_till_done()
    assert coordinator.data.covered == {}
