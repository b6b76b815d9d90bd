"""Writes accepted suggestions into automations.yaml, as HA's automation editor does."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
from typing import Any

from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.components.automation.const import DOMAIN as AUTOMATION_DOMAIN
from homeassistant.config import AUTOMATION_CONFIG_PATH
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util.file import write_utf8_file_atomic
from homeassistant.util.yaml import dump, load_yaml
import voluptuous as vol

from .const import DOMAIN, LOGGER

_LOCK = asyncio.Lock()  # one writer of automations.yaml at a time within HomeIQ
_KEY_ORDER = ("id", "alias", "description", "triggers", "conditions", "actions", "mode")


def automation_id(pattern_id: str) -> str:
    """A stable automation id: accepting the same habit twice updates one automation."""
    return f"homeiq_{re.sub(r'[^a-zA-Z0-9_]', '_', pattern_id)}"


def build_config(pattern_id: str, suggestion: dict[str, Any]) -> dict[str, Any]:
    """The automation as it goes into automations.yaml (editor key order).

    Never with `initial_state`: HA would force it at every start, over the user's own toggles;
    accepting sets it on or off once after the reload instead (`async_set_enabled`).
    """
    config: dict[str, Any] = {"id": automation_id(pattern_id)}
    for key in _KEY_ORDER[1:]:
        if key in suggestion:
            config[key] = suggestion[key]
    return config


def _upsert(path: Path, config: dict[str, Any]) -> None:
    current: Any = load_yaml(str(path)) if path.exists() else []
    if current is None:
        current = []
    if not isinstance(current, list):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="automations_file_invalid",
            translation_placeholders={"path": str(path)},
        )
    items = [
        item for item in current if not (isinstance(item, dict) and item.get("id") == config["id"])
    ]
    items.append(config)
    write_utf8_file_atomic(str(path), dump(items))


async def async_create_automation(
    hass: HomeAssistant, config: dict[str, Any], context: Context | None = None
) -> None:
    """Validate, write and reload: the automation then shows in the automation editor."""
    try:
        await async_validate_config_item(hass, config["id"], config)
    except (vol.Invalid, HomeAssistantError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="automation_invalid",
            translation_placeholders={"id": config["id"], "error": str(err)},
        ) from err
    path = Path(hass.config.path(AUTOMATION_CONFIG_PATH))
    async with _LOCK:
        await hass.async_add_executor_job(_upsert, path, config)
    if hass.services.has_service("automation", "reload"):
        await hass.services.async_call(
            "automation", "reload", {"id": config["id"]}, blocking=True, context=context
        )


async def async_set_enabled(
    hass: HomeAssistant, config_id: str, enabled: bool, context: Context | None = None
) -> None:
    """Turn the reloaded automation on or off once; HA's restore state keeps it afterwards."""
    entity_id = er.async_get(hass).async_get_entity_id(
        AUTOMATION_DOMAIN, AUTOMATION_DOMAIN, config_id
    )
    if entity_id is None:
        # Automations are not loaded (no `automation:` in configuration.yaml): HA will start
        # it on when they are.
        LOGGER.warning("Automation %s is not loaded; it could not be turned %s",
                       config_id, "on" if enabled else "off")  # fmt: skip
        return
    await hass.services.async_call(
        AUTOMATION_DOMAIN,
        SERVICE_TURN_ON if enabled else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity_id},
        blocking=True,
        context=context,
    )
