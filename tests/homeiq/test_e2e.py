"""End to end: recorded habits -> real sidecar on tiny models -> patterns, sensors, to-do.

The sidecars here load the tiny test models (scripts/setup test-models): without them these
tests skip, and under scripts/test (HOMEIQ_REQUIRE_TEST_MODELS) or CI they fail.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.sun import get_astral_event_date
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import (
    CATEGORIES,
    CONF_MIN_CONFIDENCE,
    CONF_MODE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    MODE_EXTERNAL,
)

from .conftest import MODEL_ROLES, SIDECAR_TOKEN
from .home import AUTOMATED_ENTITY, HABIT_ENTITY, HABIT_TIME, PAIR_ACTION, PAIR_TRIGGER, record_home
from .test_init import wait_for

pytestmark = pytest.mark.usefixtures("recorder_mock")

TODO = "todo.homeiq_suggestions"
PRIORITIES = {"high", "medium", "low"}


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


def assert_models_ran(response: dict[str, Any], models: dict[str, str]) -> None:
    """Each tiny model really ran: named in the summary, and each pattern carries its output.

    A fallback says "unavailable: ..." (or "not run: ...") instead of the model, and a
    pattern categorised by its entities' domain has no classifier confidence.
    """
    summary = response["summary"]
    for role in MODEL_ROLES:
        assert summary["models"][role] == f"{models[role]} (int8)", summary["models"]
        assert sum(summary["cache"][role].values()) > 0, summary["cache"]
    patterns = response["patterns"]
    assert len(patterns) >= 2  # the reranker runs only with candidates
    ids = {p["id"] for p in patterns}
    for pattern in patterns:
        assert pattern["category"] in CATEGORIES, pattern
        assert pattern["priority"] in PRIORITIES, pattern
        assert 0.0 <= pattern["category_confidence"] <= 1.0, pattern
        assert 0.0 <= pattern["priority_confidence"] <= 1.0, pattern
        # Neighbours come from embeddings (reranked): other patterns of this analysis.
        assert pattern["similar"], pattern
        assert {s["id"] for s in pattern["similar"]} <= ids - {pattern["id"]}, pattern


async def test_habit_found_shown_and_accepted(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    tiny_sidecar_url: str,
    tiny_model_paths: dict[str, str],
    entity_registry: er.EntityRegistry,
) -> None:
    """The planted habits come back from the sidecar's models and become an automation."""
    assert await async_setup_component(hass, "automation", {})
    await record_home(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="HomeIQ",
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: tiny_sidecar_url, CONF_TOKEN: SIDECAR_TOKEN},
        # Eight days of history give a daily habit a confidence of ~0.56 in the miner.
        options={CONF_MIN_CONFIDENCE: 0.4},
        entry_id="01HOMEIQTINYMODELS00000000",
    )
    entry.add_to_hass(hass)
    # The per-category sensors are disabled by default: enable them before setup.
    for category in CATEGORIES:
        entity_registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{entry.entry_id}_{category}_patterns",
            suggested_object_id=f"homeiq_{category}_patterns",
            config_entry=entry,
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    response = await analyze(hass, entry)
    patterns = response["patterns"]
    habit = find_habit(patterns)
    hour, minute = (int(x) for x in habit["time"].split(":"))
    assert abs((hour * 60 + minute) - (HABIT_TIME[0] * 60 + HABIT_TIME[1])) <= 10
    assert habit["status"] == "new"
    assert habit["suggestion"]["triggers"][0]["trigger"] == "time"
    # Today's sunrise and sunset at the home by HA's sun, kept with each time habit for its
    # decisions (a sun habit found by the clock near a solstice: data.sun_moved).
    sun: dict[str, int] = {}
    for event in ("sunrise", "sunset"):
        when = dt_util.as_local(get_astral_event_date(hass, event, dt_util.now().date()))
        sun[event] = when.hour * 60 + when.minute
    assert habit["sun_minutes"] == sun
    assert all("sun_minutes" not in p for p in patterns if p["type"] != "time_of_day")
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
    assert_models_ran(response, tiny_model_paths)

    # Sensors and the to-do list show the analysis, with the classifier's categories.
    patterns_sensor = hass.states.get("sensor.homeiq_patterns")
    assert patterns_sensor.state == str(len(patterns))
    by_id = {p["id"]: p for p in patterns}
    top = patterns_sensor.attributes["top_patterns"]
    assert top
    assert all(t["category"] == by_id[t["id"]]["category"] for t in top), top
    for category in CATEGORIES:
        count = sum(p["category"] == category for p in patterns)
        assert hass.states.get(f"sensor.homeiq_{category}_patterns").state == str(count)
    assert int(hass.states.get("sensor.homeiq_new_suggestions").state) >= 1
    last = hass.states.get("sensor.homeiq_last_analysis")
    assert last.attributes["events"] == response["summary"]["events_read"]
    items = await hass.services.async_call(
        "todo", "get_items", {"entity_id": TODO}, blocking=True, return_response=True
    )
    todo_items = {item["uid"]: item for item in items[TODO]["items"]}
    assert habit["id"] in todo_items
    assert todo_items[habit["id"]]["description"].endswith(f" {habit['category']}.")

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
    response = await analyze(hass, entry)
    assert find_habit(response["patterns"])["status"] == "accepted"
    assert_models_ran(response, tiny_model_paths)
    await hass.config_entries.async_unload(entry.entry_id)
    # Drop the automation again: its time trigger would outlive the test.
    (config_dir / "automations.yaml").write_text("[]\n")
    await hass.services.async_call("automation", "reload", blocking=True)


@pytest.mark.usefixtures("fast_supervisor")
async def test_sidecar_killed_mid_analysis(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    managed_config_entry: MockConfigEntry,
    managed_tiny_models: dict[str, str],
) -> None:
    """HA and the entities stand, the repair issue shows, the next analysis succeeds.

    The managed sidecar runs the tiny models; the restarted one loads them again.
    """
    await record_home(hass)
    managed_config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(managed_config_entry, options={CONF_MIN_CONFIDENCE: 0.4})
    assert await hass.config_entries.async_setup(managed_config_entry.entry_id)
    coordinator = managed_config_entry.runtime_data.coordinator
    supervisor = managed_config_entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await wait_for(lambda: coordinator.connected)
    first = await analyze(hass, managed_config_entry)
    assert_models_ran(first, managed_tiny_models)
    assert ir.async_get(hass).async_get_issue(DOMAIN, "models_failed") is None
    assert ir.async_get(hass).async_get_issue(DOMAIN, "models_missing") is None
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
    assert_models_ran(second, managed_tiny_models)
    assert ir.async_get(hass).async_get_issue(DOMAIN, "sidecar_unreachable") is None
    assert hass.states.get("binary_sensor.homeiq_sidecar").state == "on"
    await hass.config_entries.async_unload(managed_config_entry.entry_id)
