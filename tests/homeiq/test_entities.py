"""Sensors, binary sensor and to-do list (golden snapshots), diagnostics, decisions."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.data import HomeIQData, habit_signature
from custom_components.homeiq.diagnostics import async_get_config_entry_diagnostics
from custom_components.homeiq.sensor import HomeIQSensor

from .conftest import SIDECAR_TOKEN
from .home import record_home

pytestmark = pytest.mark.usefixtures("recorder_mock")

SNAPSHOTS = Path(__file__).parent / "snapshots"
TODO = "todo.homeiq_suggestions"


def assert_snapshot(name: str, value: Any) -> None:
    """Compare with a committed JSON snapshot (UPDATE_SNAPSHOTS=1 rewrites it).

    Plain JSON instead of syrupy: the two HA test environments pin different syrupy versions.
    """
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert json.loads(text) == json.loads(path.read_text())


async def test_entities_snapshot(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Every entity's state and attributes, with translated names and unique ids."""
    await hass.async_block_till_done()
    entries = er.async_entries_for_config_entry(entity_registry, loaded_with_results.entry_id)
    snapshot = {
        entry.entity_id: {
            "unique_id": entry.unique_id,
            "translation_key": entry.translation_key,
            "entity_category": entry.entity_category,
            "disabled_by": entry.disabled_by,
            "state": (state := hass.states.get(entry.entity_id)) and state.state,
            "attributes": state and dict(state.attributes),
        }
        for entry in sorted(entries, key=lambda e: e.entity_id)
    }
    assert_snapshot("entities", snapshot)


async def test_todo_items_snapshot(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """The to-do list holds the new suggestions."""
    items = await hass.services.async_call(
        "todo", "get_items", {ATTR_ENTITY_ID: TODO}, blocking=True, return_response=True
    )
    assert_snapshot("todo_items", items)


async def test_todo_delete_dismisses(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """Deleting an item dismisses its suggestion; an unknown item is refused."""
    await hass.services.async_call(
        "todo",
        "remove_item",
        {ATTR_ENTITY_ID: TODO, "item": ["tod-light-kitchen-on-0700"]},
        blocking=True,
    )
    assert hass.states.get(TODO).state == "1"
    data = loaded_with_results.runtime_data.coordinator.data
    assert data.decisions["tod-light-kitchen-on-0700"].status == "dismissed"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "todo", "remove_item", {ATTR_ENTITY_ID: TODO, "item": ["nope"]}, blocking=True
        )


async def test_diagnostics_redacted(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """The token, the URL and the household's entities never appear in diagnostics."""
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_with_results)
    text = json.dumps(diagnostics, default=str)
    assert SIDECAR_TOKEN not in text
    assert "127.0.0.1" not in text
    assert "light.kitchen" not in text
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["analysis"]["patterns"] == 3
    assert diagnostics["sidecar"]["connected"] is True


def test_attributes_stay_small_and_unrecorded() -> None:
    """A thousand patterns still give attributes far below the recorder's 16 KB limit."""
    pattern = json.loads((Path(__file__).parent / "fixtures" / "stored.json").read_text())[
        "patterns"
    ][0]
    data = HomeIQData(patterns=[{**pattern, "id": f"p{i}"} for i in range(1000)])
    from custom_components.homeiq.sensor import _new_suggestions, _top_patterns

    class Fake:  # the attribute functions need only .data and .max_suggestions
        max_suggestions = 1000

    fake = Fake()
    fake.data = data  # type: ignore[attr-defined]
    for fn in (_top_patterns, _new_suggestions):
        assert len(json.dumps(fn(fake))) < 4096  # type: ignore[arg-type]
    assert {"top_patterns", "suggestion_ids"} <= HomeIQSensor._unrecorded_attributes

    # The models attribute is recorded (it changes only when the models do): a sidecar that
    # reports many or long model strings still gives a small attribute.
    from custom_components.homeiq.sensor import _last_analysis

    data.summary = {"models": {f"role{i}": "x" * 10_000 for i in range(50)}}
    assert len(json.dumps(_last_analysis(fake))) < 1024  # type: ignore[arg-type]
    assert "models" not in HomeIQSensor._unrecorded_attributes
    data.summary = {"models": "not a mapping"}
    assert _last_analysis(fake)["models"] is None  # type: ignore[arg-type]


async def test_last_analysis_names_the_models(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After an analysis, the sensor and HA's log say which models ran, or which fallback.

    The test sidecar has no model cache: the summary names the fallbacks, and so must HA.
    """
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    await record_home(hass)
    caplog.set_level(logging.INFO, logger="custom_components.homeiq")
    response = await hass.services.async_call(
        "homeiq",
        "analyze_patterns",
        {"config_entry_id": mock_config_entry.entry_id, "lookback_days": 30},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    models = response["summary"]["models"]
    assert set(models) == {"embed", "rerank", "classify"}
    await hass.async_block_till_done()
    state = hass.states.get("sensor.homeiq_last_analysis")
    assert state is not None
    assert state.attributes["models"] == models
    line = next(r.getMessage() for r in caplog.records if "HomeIQ analysed" in r.getMessage())
    for role, what in models.items():
        assert f"{role} {what}" in line
    assert "unavailable" in line  # no model cache here: the fallbacks are named, not hidden
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()


def test_dismissed_habit_returns_when_it_changes() -> None:
    """Dismissed stays dismissed for the same habit; a changed delay or days makes it new."""
    pattern = {
        "id": "ta-x",
        "type": "trigger_action",
        "steps": [{"entity_id": "binary_sensor.a", "state": "on"}],
        "delay_s": 40.0,
        "weekdays": None,
        "suggestion": {"alias": "x"},
        "automated": False,
    }
    data = HomeIQData(patterns=[pattern])
    data.decide(pattern, "dismissed", None)
    assert data.status(pattern) == "dismissed"
    assert data.status({**pattern, "delay_s": 44.0}) == "dismissed"  # same habit
    assert data.status({**pattern, "delay_s": 600.0}) == "new"  # changed habit
    assert habit_signature(pattern) != habit_signature({**pattern, "weekdays": [5, 6]})


async def test_category_sensor_when_enabled(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Per-category counts are disabled by default; enabled, they count patterns."""
    for category in ("comfort", "security"):
        entity_registry.async_update_entity(f"sensor.homeiq_{category}_patterns", disabled_by=None)
    assert await hass.config_entries.async_reload(loaded_with_results.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.homeiq_comfort_patterns").state == "1"
    assert hass.states.get("sensor.homeiq_security_patterns").state == "1"
