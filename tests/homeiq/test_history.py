"""The history reader: which entities it reads, and what it sends."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, EntityCategory
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.homeiq.const import (
    CONF_EXCLUDE_AREAS,
    CONF_EXCLUDE_DOMAINS,
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_AREAS,
    CONF_INCLUDE_ENTITIES,
)
from custom_components.homeiq.history import (
    HistoryStats,
    async_build_selection,
    async_groups,
    write_analyze_body,
)

pytestmark = pytest.mark.usefixtures("recorder_mock")


async def test_selection_by_domain_area_and_entity(
    hass: HomeAssistant,
    area_registry: ar.AreaRegistry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Domains by default; areas through the entity or its device; explicit lists win."""
    kitchen = area_registry.async_create("Kitchen")
    garage = area_registry.async_create("Garage")
    config_entry = MockConfigEntry(domain="test")
    config_entry.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=config_entry.entry_id, identifiers={("test", "lamp")}
    )
    device_registry.async_update_device(device.id, area_id=kitchen.id)
    lamp = entity_registry.async_get_or_create("light", "test", "lamp", device_id=device.id)
    door = entity_registry.async_get_or_create("binary_sensor", "test", "door")
    entity_registry.async_update_entity(door.entity_id, area_id=garage.id)

    default = async_build_selection(hass, {})
    assert default.wants(lamp.entity_id)
    assert default.wants("switch.kettle")
    assert not default.wants("sensor.temperature")  # numeric noise is not a habit

    by_area = async_build_selection(hass, {CONF_INCLUDE_AREAS: [kitchen.id]})
    assert by_area.wants(lamp.entity_id)  # through its device
    assert not by_area.wants(door.entity_id)
    assert not by_area.wants("switch.kettle")

    excluded = async_build_selection(
        hass,
        {
            CONF_EXCLUDE_AREAS: [garage.id],
            CONF_EXCLUDE_DOMAINS: ["switch"],
            CONF_EXCLUDE_ENTITIES: ["light.hall"],
            CONF_INCLUDE_ENTITIES: ["sensor.kettle_power"],
        },
    )
    assert not excluded.wants(door.entity_id)
    assert not excluded.wants("switch.kettle")
    assert not excluded.wants("light.hall")
    assert excluded.wants("sensor.kettle_power")  # explicitly included
    assert excluded.wants(lamp.entity_id)

    only = async_build_selection(hass, {}, ["switch.kettle"])
    assert only.wants("switch.kettle")
    assert not only.wants(lamp.entity_id)

    # A relay that switch_as_x shows as a light (it hides the relay): only the light is read,
    # unless the relay is named.
    relay = entity_registry.async_get_or_create(
        "switch", "test", "relay", hidden_by=er.RegistryEntryHider.INTEGRATION
    )
    user_hidden = entity_registry.async_get_or_create(
        "switch", "test", "fan", hidden_by=er.RegistryEntryHider.USER
    )
    assert not async_build_selection(hass, {}).wants(relay.entity_id)
    assert async_build_selection(hass, {}).wants(user_hidden.entity_id)
    named = async_build_selection(hass, {CONF_INCLUDE_ENTITIES: [relay.entity_id]})
    assert named.wants(relay.entity_id)
    assert async_build_selection(hass, {}, [relay.entity_id]).wants(relay.entity_id)

    # A device's settings and health are no habits: not read unless named.
    child_lock = entity_registry.async_get_or_create(
        "switch", "test", "lock", entity_category=EntityCategory.CONFIG
    )
    online = entity_registry.async_get_or_create(
        "binary_sensor", "test", "online", entity_category=EntityCategory.DIAGNOSTIC
    )
    assert not async_build_selection(hass, {}).wants(child_lock.entity_id)
    assert not async_build_selection(hass, {}).wants(online.entity_id)
    assert async_build_selection(hass, {CONF_INCLUDE_ENTITIES: [online.entity_id]}).wants(
        online.entity_id
    )
    assert async_build_selection(hass, {}, [child_lock.entity_id]).wants(child_lock.entity_id)

    # A person stands for its trackers; without persons (or named) the tracker is read.
    hass.states.async_set("person.anna", "home", {"device_trackers": ["device_tracker.anna_phone"]})
    assert async_build_selection(hass, {}).wants("person.anna")
    assert not async_build_selection(hass, {}).wants("device_tracker.anna_phone")
    assert async_build_selection(hass, {CONF_EXCLUDE_DOMAINS: ["person"]}).wants(
        "device_tracker.anna_phone"
    )
    assert async_build_selection(hass, {CONF_EXCLUDE_ENTITIES: ["person.anna"]}).wants(
        "device_tracker.anna_phone"
    )
    assert async_build_selection(
        hass, {CONF_INCLUDE_ENTITIES: ["device_tracker.anna_phone"]}
    ).wants("device_tracker.anna_phone")


async def _body(
    hass: HomeAssistant, start_ts: float, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any], HistoryStats]:
    """The analyze body of everything from start_ts to now, as the coordinator writes it."""
    out = io.BytesIO()
    stats = await get_instance(hass).async_add_executor_job(
        lambda: write_analyze_body(
            hass,
            async_build_selection(hass, {}),
            start_ts=start_ts,
            end_ts=time.time() + 1,
            extra=extra or {},
            out=out,
        )
    )
    return json.loads(out.getvalue()), stats


async def test_body_rows_contexts_and_automations(hass: HomeAssistant) -> None:
    """State changes only, with their contexts; automation contexts listed; valid JSON."""
    start = time.time() - 1
    hass.states.async_set("light.kitchen", "off")
    user_context = Context(user_id="abcdef0123456789abcdef0123456789")
    hass.states.async_set("light.kitchen", "on", context=user_context)
    hass.states.async_set("light.kitchen", "on", {"brightness": 10})  # attributes only
    hass.states.async_set("light.kitchen", "unavailable")
    automation_context = Context()
    hass.bus.async_fire("automation_triggered", {"name": "x"}, context=automation_context)
    hass.states.async_set("switch.pump", "on", context=Context(parent_id=automation_context.id))
    hass.states.async_set("sensor.temperature", "21.5")
    await async_wait_recording_done(hass)

    body, stats = await _body(hass, start, {"time_zone": "Europe/Amsterdam"})
    rows = body["events"]
    assert [(r[1], r[2]) for r in rows] == [
        ("light.kitchen", "off"),
        ("light.kitchen", "on"),
        ("light.kitchen", "unavailable"),  # the miner's gap marker
        ("switch.pump", "on"),
    ]
    assert rows[1][3] == user_context.id
    assert rows[1][5] == user_context.user_id
    assert rows[3][4] == automation_context.id
    assert body["automation_context_ids"] == [automation_context.id]
    assert body["time_zone"] == "Europe/Amsterdam"
    assert stats.events == 4
    assert stats.automation_contexts == 1


async def test_body_carries_the_starts_of_home_assistant(hass: HomeAssistant) -> None:
    """The recorder's run start and `homeassistant_started` go along, inside the window only."""
    run_start = get_instance(hass).recorder_runs_manager.recording_start.timestamp()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    hass.states.async_set("light.kitchen", "on")
    await async_wait_recording_done(hass)

    whole, stats = await _body(hass, run_start - 60)
    assert whole["restarts"]["recorder_starts"] == [pytest.approx(run_start, abs=1e-3)]
    assert len(whole["restarts"]["started"]) == 1
    assert run_start <= whole["restarts"]["started"][0] <= time.time()
    assert stats.restarts == 1
    later, stats = await _body(hass, run_start + 0.001)
    assert later["restarts"]["recorder_starts"] == []
    assert stats.restarts == 0


async def test_groups_of_the_read_entities(hass: HomeAssistant) -> None:
    """HA's light group and a Hue room list their members; a scene's list is not a group;
    unread groups stay out."""
    hass.states.async_set("light.hall_lamp", "off")  # an unavailable group lists nothing
    assert await async_setup_component(
        hass,
        "light",
        {"light": [{"platform": "group", "name": "Hall", "entities": ["light.hall_lamp"]}]},
    )
    assert await async_setup_component(
        hass, "scene", {"scene": [{"name": "evening", "entities": {"light.hall_lamp": "on"}}]}
    )
    await hass.async_block_till_done()
    hass.states.async_set("sensor.total", "3", {"entity_id": ["sensor.a", "sensor.b"]})
    # A Hue room lists its lights as a set (homeassistant/components/hue/v2/group.py).
    hass.states.async_set(
        "light.study", "on", {"is_hue_group": True, "entity_id": {"light.shelf", "light.desk"}}
    )

    assert async_groups(hass, async_build_selection(hass, {})) == {
        "light.hall": ["light.hall_lamp"],
        "light.study": ["light.desk", "light.shelf"],
    }
    assert async_groups(hass, async_build_selection(hass, {}, ["switch.kettle"])) == {}
