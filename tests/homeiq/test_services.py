"""Tests for the HomeIQ actions, each with its errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import CONF_MODE, CONF_TOKEN, CONF_URL, DOMAIN, MODE_EXTERNAL

pytestmark = pytest.mark.usefixtures("recorder_mock")

HABIT = "tod-light-kitchen-on-0700"
PAIR = "ta-door-hallway"
AUTOMATED = "tod-switch-pump-on-2130"


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any], response: bool = True
) -> Any:
    """Call a HomeIQ action, blocking."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def test_get_suggestions(hass: HomeAssistant, loaded_with_results: MockConfigEntry) -> None:
    """New suggestions, most confident first; an automated habit is never suggested."""
    entry_id = loaded_with_results.entry_id
    result = await call(hass, "get_suggestions", {"config_entry_id": entry_id})
    assert [s["id"] for s in result["suggestions"]] == [HABIT, PAIR]
    first = result["suggestions"][0]
    assert first["status"] == "new"
    assert first["automation"]["triggers"] == [{"trigger": "time", "at": "07:00:00"}]
    # What the card words in the user's language; a field the pattern lacks (stored before
    # it existed) is null, and the card then shows the English description.
    assert first["habit"] == {
        "type": "time_of_day",
        "steps": [{"entity_id": "light.kitchen", "state": "on"}],
        "together": None,
        "together_at_once": None,
        "time": "07:00",
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "sun": None,
        "delay_s": None,
        "occurrences": 28,
        "days_seen": 28,
    }

    result = await call(hass, "get_suggestions", {"config_entry_id": entry_id, "status": "all"})
    assert AUTOMATED not in [s["id"] for s in result["suggestions"]]

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_suggestions", {"config_entry_id": entry_id, "status": "maybe"})
    assert err.value.translation_key == "invalid_status"


async def test_accept_creates_disabled_automation(
    hass: HomeAssistant,
    loaded_with_results: MockConfigEntry,
    config_dir: Path,
    entity_registry: er.EntityRegistry,
) -> None:
    """Accepting writes automations.yaml and reloads; enabled=false turns it off once.

    No `initial_state` is written: it would force the state at every restart, over the user's
    own toggles in the automation editor.
    """
    assert await async_setup_component(hass, "automation", {})
    result = await call(
        hass,
        "accept_suggestion",
        {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": PAIR, "enabled": False},
    )
    automation_id = result["automation_id"]
    entity_id = entity_registry.async_get_entity_id("automation", "automation", automation_id)
    assert entity_id is not None
    assert hass.states.get(entity_id).state == "off"
    assert "initial_state" not in (config_dir / "automations.yaml").read_text()

    result = await call(
        hass,
        "get_suggestions",
        {"config_entry_id": loaded_with_results.entry_id, "status": "accepted"},
    )
    assert [s["id"] for s in result["suggestions"]] == [PAIR]
    assert hass.states.get("sensor.homeiq_new_suggestions").state == "1"

    # Accepting again updates the same automation instead of adding another.
    await call(
        hass,
        "accept_suggestion",
        {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": PAIR},
        response=False,
    )
    assert (config_dir / "automations.yaml").read_text().count(automation_id) == 1
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "on"


async def test_accept_and_dismiss_errors(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """Unknown ids, and habits that have nothing to suggest, are refused with a reason."""
    entry_id = loaded_with_results.entry_id
    for service in ("accept_suggestion", "dismiss_suggestion"):
        for suggestion_id in ("nope", AUTOMATED):
            with pytest.raises(ServiceValidationError) as err:
                await call(
                    hass,
                    service,
                    {"config_entry_id": entry_id, "suggestion_id": suggestion_id},
                    response=False,
                )
            assert err.value.translation_key == "unknown_suggestion"
            assert err.value.translation_placeholders == {"suggestion_id": suggestion_id}


async def test_dismiss_survives_restart(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """A dismissed suggestion stays dismissed after a reload (stored decision)."""
    entry_id = loaded_with_results.entry_id
    await call(
        hass, "dismiss_suggestion", {"config_entry_id": entry_id, "suggestion_id": HABIT}, False
    )
    assert hass.states.get("sensor.homeiq_new_suggestions").state == "1"
    assert await hass.config_entries.async_reload(entry_id)
    await hass.async_block_till_done()
    result = await call(hass, "get_suggestions", {"config_entry_id": entry_id})
    assert [s["id"] for s in result["suggestions"]] == [PAIR]
    result = await call(
        hass, "get_suggestions", {"config_entry_id": entry_id, "status": "dismissed"}
    )
    assert [s["id"] for s in result["suggestions"]] == [HABIT]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"lookback_days": 0}, "invalid_lookback_days"),
        ({"lookback_days": 400}, "invalid_lookback_days"),
        ({"lookback_days": "soon"}, "invalid_lookback_days"),
        ({"lookback_days": 2.5}, "invalid_lookback_days"),
        ({"entity_id": ["light.nowhere"]}, "unknown_entities"),
        ({"entity_id": "not an entity"}, "unknown_entities"),
    ],
)
async def test_analyze_bad_values(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    """Bad values are refused before any work, with a translated reason."""
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "analyze_patterns", {"config_entry_id": loaded_with_results.entry_id, **data}
        )
    assert err.value.translation_key == key


async def test_analyze_with_filter_and_joined_runs(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """A filtered analysis runs; a second request while one runs joins it."""
    hass.states.async_set("light.kitchen", "on")
    coordinator = loaded_with_results.runtime_data.coordinator
    first, second = await asyncio.gather(
        coordinator.async_analyze(7, ["light.kitchen"]), coordinator.async_analyze()
    )
    assert first is second
    result = await call(
        hass,
        "analyze_patterns",
        {
            "config_entry_id": loaded_with_results.entry_id,
            "lookback_days": 3,
            "entity_id": "light.kitchen",
        },
    )
    assert set(result) == {"summary", "patterns"}
    assert result["summary"]["events_read"] >= 0
    # Without response the action still runs (as an automation would call it).
    assert (
        await call(
            hass, "analyze_patterns", {"config_entry_id": loaded_with_results.entry_id}, False
        )
        is None
    )


async def test_bad_config_entry(hass: HomeAssistant, loaded_with_results: MockConfigEntry) -> None:
    """An id that is not a HomeIQ entry, or an entry that is not loaded."""
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_suggestions", {"config_entry_id": "missing"})
    assert err.value.translation_key == "invalid_config_entry"
    await hass.config_entries.async_unload(loaded_with_results.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "get_suggestions", {"config_entry_id": loaded_with_results.entry_id})
    assert err.value.translation_key == "entry_not_loaded"


async def test_analyze_sidecar_unreachable(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    unused_tcp_port: int,
) -> None:
    """A down sidecar: the action fails with a translated error, HA keeps going."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={
            CONF_MODE: MODE_EXTERNAL,
            CONF_URL: f"http://127.0.0.1:{unused_tcp_port}",
            CONF_TOKEN: "t",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "analyze_patterns", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "sidecar_unreachable"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_analyze_wrong_token(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    sidecar_url: str,
) -> None:
    """A token the sidecar refuses: a translated error that says to reconfigure, and the
    reauthentication notice, not an "unreachable" repair issue (it answers, it refuses)."""
    entry = MockConfigEntry(
        domain=DOMAIN, data={CONF_MODE: MODE_EXTERNAL, CONF_URL: sidecar_url, CONF_TOKEN: "wrong"}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "analyze_patterns", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "sidecar_auth_failed"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, "sidecar_unreachable") is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_accept_keeps_the_users_toggle(
    hass: HomeAssistant,
    loaded_with_results: MockConfigEntry,
    config_dir: Path,
    entity_registry: er.EntityRegistry,
) -> None:
    """An automation accepted off and later switched on by the user stays on after a reload."""
    assert await async_setup_component(hass, "automation", {})
    result = await call(
        hass,
        "accept_suggestion",
        {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": PAIR, "enabled": False},
    )
    entity_id = entity_registry.async_get_entity_id(
        "automation", "automation", result["automation_id"]
    )
    assert entity_id is not None
    assert hass.states.get(entity_id).state == "off"
    await hass.services.async_call("automation", "turn_on", {"entity_id": entity_id}, blocking=True)
    # A changed automations.yaml (the user edits another automation) reloads this one too.
    yaml_text = (config_dir / "automations.yaml").read_text()
    (config_dir / "automations.yaml").write_text(yaml_text.replace("mode: single", "mode: restart"))
    await hass.services.async_call("automation", "reload", blocking=True)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id).state == "on"


async def test_accept_automations_file_invalid(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """An automations.yaml that is not a list is never overwritten; nothing is decided."""
    automations = config_dir / "automations.yaml"
    automations.write_text("mine: not a list\n")
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "accept_suggestion",
            {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": PAIR},
            response=False,
        )
    assert err.value.translation_key == "automations_file_invalid"
    assert err.value.translation_placeholders == {"path": str(automations)}
    assert automations.read_text() == "mine: not a list\n"
    result = await call(hass, "get_suggestions", {"config_entry_id": loaded_with_results.entry_id})
    assert PAIR in [s["id"] for s in result["suggestions"]]


async def test_accept_automation_invalid(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path
) -> None:
    """A suggestion HA's automation validation refuses is not written; nothing is decided."""
    coordinator = loaded_with_results.runtime_data.coordinator
    pattern = coordinator.data.pattern(HABIT)
    assert pattern is not None
    pattern["suggestion"]["triggers"] = [{"trigger": "time", "at": "25:99"}]
    with pytest.raises(HomeAssistantError) as err:
        await call(
            hass,
            "accept_suggestion",
            {"config_entry_id": loaded_with_results.entry_id, "suggestion_id": HABIT},
            response=False,
        )
    assert err.value.translation_key == "automation_invalid"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["id"] == f"homeiq_{HABIT.replace('-', '_')}"
    assert (config_dir / "automations.yaml").read_text() == "[]\n"
    result = await call(hass, "get_suggestions", {"config_entry_id": loaded_with_results.entry_id})
    assert HABIT in [s["id"] for s in result["suggestions"]]


@pytest.fixture
def analyze_bodies() -> list[dict[str, Any]]:
    """The /v1/analyze bodies `loading_sidecar` received."""
    return []


@pytest.fixture
async def loading_sidecar(analyze_bodies: list[dict[str, Any]]) -> AsyncGenerator[str]:
    """A real HTTP server on loopback that answers like a sidecar still loading its models."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "0", "models_loaded": []})

    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"models": {}})

    async def analyze(request: web.Request) -> web.Response:
        analyze_bodies.append(json.loads(await request.read()))
        return web.json_response(
            {"error": {"code": "model_loading", "message": "The embed model is loading."}},
            status=503,
            headers={"Retry-After": "5"},
        )

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/analyze", analyze)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_analyze_models_loading(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    loading_sidecar: str,
    analyze_bodies: list[dict[str, Any]],
) -> None:
    """A sidecar still loading its models (503): a translated error that says to wait. The
    request carried what the miner needs beside the rows: HA's time zone and location."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: loading_sidecar, CONF_TOKEN: "t"},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "analyze_patterns", {"config_entry_id": entry.entry_id})
    assert err.value.translation_key == "models_loading"
    assert entry.runtime_data.coordinator.data.last_analysis is None
    (body,) = analyze_bodies
    assert body["time_zone"] == hass.config.time_zone
    assert body["location"] == {
        "latitude": hass.config.latitude,
        "longitude": hass.config.longitude,
    }
    await hass.config_entries.async_unload(entry.entry_id)
