"""Writes accepted suggestions into automations.yaml, as HA's automation editor does."""

from __future__ import annotations

import asyncio
from pathlib import Path
import re
from typing import Any

from homeassistant.components.automation.config import async_validate_config_item
from homeassistant.config import AUTOMATION_CONFIG_PATH
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util.file import write_utf8_file_atomic
from homeassistant.util.yaml import dump, load_yaml
import voluptuous as vol

from .const import DOMAIN

_LOCK = asyncio.Lock()  # one writer of automations.yaml at a time within HomeIQ
_KEY_ORDER = ("id", "alias", "description", "triggers", "conditions", "actions", "mode")


def automation_id(pattern_id: str) -> str:
    """A stable automation id: accepting the same habit twice updates one automation."""
    return f"homeiq_{re.sub(r'[^a-zA-Z0-9_]', '_', pattern_id)}"


def build_config(pattern_id: str, suggestion: dict[str, Any], *, enabled: bool) -> dict[str, Any]:
    """The automation as it goes into automations.yaml (editor key order)."""
    config: dict[str, Any] = {"id": automation_id(pattern_id)}
    for key in _KEY_ORDER[1:]:
        if key in suggestion:
            config[key] = suggestion[key]
    config["initial_state"] = enabled
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


async def async_create_automation(hass: HomeAssistant, config: dict[str, Any]) -> None:
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
        await hass.services.async_call("automation", "reload", {"id": config["id"]}, blocking=True)
