"""Every suggestion the miner makes for a planted home passes Home Assistant's own validation."""

from __future__ import annotations

from typing import Any

from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service
import voluptuous as vol

from homeiq_miner import mine
from homeiq_miner.synth import make_home


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
