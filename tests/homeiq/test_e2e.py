"""End to end: recorded habits -> real sidecar -> patterns, sensors, to-do -> an automation."""

from __future__ import annotations

import os
from pathlib import Path
import signal
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import CONF_MIN_CONFIDENCE, DOMAIN

from .home import AUTOMATED_ENTITY, HABIT_ENTITY, HABIT_TIME, PAIR_ACTION, PAIR_TRIGGER, record_home
from .test_init import wait_for

pytestmark = pytest.mark.usefixtures("recorder_mock")

TODO = "todo.homeiq_suggestions"


def find_habit(patterns: list[dict[str, Any]]) -> dict[str, Any]:
    """The planted time-of-day habit of the kitchen light."""
    found = [
        p
        for p in patterns
        if p["type"] == "time_of_day"
        and p["steps"][0] == {"entity_id": HABIT_ENTITY, "state": "on"}
    ]
    assert found, [p["description"] for p in patterns]
    return found[0]


async def analyze(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Call homeiq.analyze_patterns and return its response."""
    response = await hass.services.async_call(
        DOMAIN,
        "analyze_patterns",
        {"config_entry_id": entry.entry_id, "lookback_days": 30},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return response


async def test_habit_found_shown_and_accepted(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The planted habits come back from the sidecar and become an automation HA loads."""
    assert await async_setup_component(hass, "automation", {})
    await record_home(hass)
    mock_config_entry.add_to_hass(hass)
    # Eight days of history give a daily habit a confidence of ~0.56 in the miner.
    hass.config_entries.async_update_entry(mock_config_entry, options={CONF_MIN_CONFIDENCE: 0.4})
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    response = await analyze(hass, mock_config_entry)
    patterns = response["patterns"]
    habit = find_habit(patterns)
    hour, minute = (int(x) for x in habit["time"].split(":"))
    assert abs((hour * 60 + minute) - (HABIT_TIME[0] * 60 + HABIT_TIME[1])) <= 10
    assert habit["status"] == "new"
    assert habit["suggestion"]["triggers"][0]["trigger"] == "time"
    pairs = [p for p in patterns if p["type"] == "trigger_action"]
    assert any(
        p["steps"][0]["entity_id"] == PAIR_TRIGGER and p["steps"][1]["entity_id"] == PAIR_ACTION
        for p in pairs
    ), [p["description"] for p in patterns]
    # The pump is switched by an automation: never suggested as a habit.
    assert not any(
        p["status"] == "new" and any(s["entity_id"] == AUTOMATED_ENTITY for s in p["steps"])
        for p in patterns
    )
    assert response["summary"]["events_read"] > 50

    # Sensors and the to-do list show the analysis.
    assert hass.states.get("sensor.homeiq_patterns").state == str(len(patterns))
    assert int(hass.states.get("sensor.homeiq_new_suggestions").state) >= 1
    last = hass.states.get("sensor.homeiq_last_analysis")
    assert last.attributes["events"] == response["summary"]["events_read"]
    items = await hass.services.async_call(
        "todo", "get_items", {"entity_id": TODO}, blocking=True, return_response=True
    )
    uids = [item["uid"] for item in items[TODO]["items"]]
    assert habit["id"] in uids

    # Completing the item accepts it: an automation appears that HA has loaded.
    await hass.services.async_call(
        "todo",
        "update_item",
        {"entity_id": TODO, "item": habit["id"], "status": "completed"},
        blocking=True,
    )
    await hass.async_block_till_done()
    automation_id = f"homeiq_{habit['id']}"
    entity_id = entity_registry.async_get_entity_id("automation", "automation", automation_id)
    assert entity_id is not None
    assert hass.states.get(entity_id).state == "on"
    assert automation_id in (config_dir / "automations.yaml").read_text()
    items = await hass.services.async_call(
        "todo", "get_items", {"entity_id": TODO}, blocking=True, return_response=True
    )
    assert habit["id"] not in [item["uid"] for item in items[TODO]["items"]]

    # A second analysis keeps the decision: the habit is not suggested again.
    response = await analyze(hass, mock_config_entry)
    assert find_habit(response["patterns"])["status"] == "accepted"
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    # Drop the automation again: its time trigger would outlive the test.
    (config_dir / "automations.yaml").write_text("[]\n")
    await hass.services.async_call("automation", "reload", blocking=True)


@pytest.mark.usefixtures("fast_supervisor")
async def test_sidecar_killed_mid_analysis(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
) -> None:
    """HA and the entities stand, the repair issue shows, the next analysis succeeds."""
    await record_home(hass)
    managed_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(managed_config_entry, options={CONF_MIN_CONFIDENCE: 0.4})
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    coordinator = managed_config_entry.runtime_data.coordinator
    supervisor = managed_config_entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await wait_for(lambda: coordinator.connected)
    first = await analyze(hass, managed_config_entry)
    patterns_before = hass.states.get("sensor.homeiq_patterns").state
    assert patterns_before == str(len(first["patterns"]))

    # Freeze the process so the request is in flight, then kill it.
    pid = supervisor.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    task = hass.async_create_task(analyze(hass, managed_config_entry))
    await wait_for(lambda: coordinator.analyzing)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == "sidecar_unreachable"
    await hass.async_block_till_done()

    assert managed_config_entry.state.recoverable  # still loaded, nothing torn down
    assert hass.states.get("sensor.homeiq_patterns").state == patterns_before
    assert hass.states.get("binary_sensor.homeiq_sidecar").state == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, "sidecar_unreachable") is not None

    # The supervisor restarts it; the next analysis works and the issue clears itself.
    await wait_for(lambda: supervisor.pid not in (None, pid) and coordinator.connected)
    second = await analyze(hass, managed_config_entry)
    assert find_habit(second["patterns"])["id"] == find_habit(first["patterns"])["id"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, "sidecar_unreachable") is None
    assert hass.states.get("binary_sensor.homeiq_sidecar").state == "on"
    await hass.config_entries.async_unload(managed_config_entry.entry_id)


def tiny_models() -> dict[str, str]:
    """Converted INT8 entries the models' tests built (.cache/test-models), by role."""
    base = Path(__file__).resolve().parents[2] / ".cache" / "test-models"
    found: dict[str, str] = {}
    for role, folder in (
        ("embed", base / "minilm" / "cache" / "embed"),
        ("rerank", base / "cache" / "rerank"),
        ("classify", base / "cache" / "classify"),
    ):
        entries = sorted(p.parent for p in folder.glob("*-int8/manifest.json"))
        if entries:
            found[role] = str(entries[0])
    return found


@pytest.mark.usefixtures("fast_supervisor")
async def test_habit_found_with_models(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the INT8 models loaded, the habit comes back categorised, with neighbours."""
    models = tiny_models()
    if len(models) < 3:
        pytest.skip("the tiny test models are not built (scripts/setup test-models)")
    for role, path in models.items():
        monkeypatch.setenv(f"HOMEIQ_SIDECAR_{role.upper()}_MODEL", path)
    monkeypatch.setenv("HOMEIQ_SIDECAR_NO_CONVERT", "1")  # never reach for a model hub
    await record_home(hass)
    managed_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(managed_config_entry, options={CONF_MIN_CONFIDENCE: 0.4})
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    coordinator = managed_config_entry.runtime_data.coordinator
    await wait_for(lambda: coordinator.connected)

    response = await analyze(hass, managed_config_entry)
    summary_models = response["summary"]["models"]
    for role in ("embed", "rerank", "classify"):
        assert not str(summary_models[role]).startswith("unavailable"), summary_models
    habit = find_habit(response["patterns"])
    assert habit["category"] in {"energy", "comfort", "security", "convenience", "maintenance"}
    assert habit["priority"] in {"high", "medium", "low"}
    assert isinstance(habit["similar"], list)
    assert ir.async_get(hass).async_get_issue(DOMAIN, "models_failed") is None
    await hass.config_entries.async_unload(managed_config_entry.entry_id)
