"""HomeIQ actions: analyze_patterns, get_suggestions, accept_suggestion, dismiss_suggestion."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
    valid_entity_id,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
import voluptuous as vol

from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ENABLED,
    ATTR_ENTITY_ID,
    ATTR_LOOKBACK_DAYS,
    ATTR_STATUS,
    ATTR_SUGGESTION_ID,
    DOMAIN,
    MAX_LOOKBACK_DAYS,
    SERVICE_ACCEPT_SUGGESTION,
    SERVICE_ANALYZE_PATTERNS,
    SERVICE_DISMISS_SUGGESTION,
    SERVICE_GET_SUGGESTIONS,
    STATUS_ACCEPTED,
    STATUS_DISMISSED,
    STATUS_NEW,
)

if TYPE_CHECKING:
    from . import HomeIQConfigEntry
    from .coordinator import HomeIQCoordinator
    from .data import HomeIQData

# Loose schemas: value checks happen below, so that errors are translated for the user.
ENTRY_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
ANALYZE_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Optional(ATTR_LOOKBACK_DAYS): vol.Any(int, float, str),
        vol.Optional(ATTR_ENTITY_ID): vol.Any(cv.string, [cv.string]),
    }
)
GET_SCHEMA = ENTRY_SCHEMA.extend({vol.Optional(ATTR_STATUS): cv.string})
ACCEPT_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_SUGGESTION_ID): cv.string,
        vol.Optional(ATTR_ENABLED, default=True): cv.boolean,
    }
)
DISMISS_SCHEMA = ENTRY_SCHEMA.extend({vol.Required(ATTR_SUGGESTION_ID): cv.string})
STATUSES = (STATUS_NEW, STATUS_ACCEPTED, STATUS_DISMISSED, "all")


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _coordinator(call: ServiceCall) -> HomeIQCoordinator:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: HomeIQConfigEntry | None = call.hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("invalid_config_entry", config_entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", title=entry.title)
    return entry.runtime_data.coordinator


def _lookback(value: Any) -> int | None:
    if value is None:
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if (days != value and str(days) != str(value)) or not 1 <= days <= MAX_LOOKBACK_DAYS:
        raise _invalid("invalid_lookback_days", value=str(value), max=str(MAX_LOOKBACK_DAYS))
    return days


def _entities(hass: HomeAssistant, value: Any) -> list[str] | None:
    if value is None:
        return None
    wanted = [value] if isinstance(value, str) else list(value)
    registry = er.async_get(hass)
    unknown = [
        e
        for e in wanted
        if not valid_entity_id(e) or (hass.states.get(e) is None and registry.async_get(e) is None)
    ]
    if unknown or not wanted:
        raise _invalid("unknown_entities", entity_ids=", ".join(unknown) or "-")
    return wanted


def _pattern_json(data: HomeIQData, pattern: dict[str, Any]) -> dict[str, Any]:
    return {**pattern, "status": data.status(pattern)}


def _suggestion_json(data: HomeIQData, pattern: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": pattern["id"],
        "status": data.status(pattern),
        "description": pattern.get("description"),
        "confidence": pattern.get("confidence"),
        "category": pattern.get("category"),
        "priority": pattern.get("priority"),
        "automation": pattern["suggestion"],
    }


async def _analyze(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call)
    days = _lookback(call.data.get(ATTR_LOOKBACK_DAYS))
    entities = _entities(call.hass, call.data.get(ATTR_ENTITY_ID))
    data = await coordinator.async_analyze(days, entities)
    if not call.return_response:
        return None
    return {
        "summary": {
            **data.summary,
            "events_read": data.events,
            "analysed_at": data.last_analysis.isoformat() if data.last_analysis else None,
        },
        "patterns": [_pattern_json(data, p) for p in data.patterns],
    }


async def _get_suggestions(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call)
    status = call.data.get(ATTR_STATUS, STATUS_NEW)
    if status not in STATUSES:
        raise _invalid("invalid_status", value=str(status), allowed=", ".join(STATUSES))
    data = coordinator.data
    found = data.suggestions(None if status == "all" else status)
    if status == STATUS_NEW:
        found = found[: coordinator.max_suggestions]
    return {"suggestions": [_suggestion_json(data, p) for p in found]}


async def _accept(call: ServiceCall) -> ServiceResponse:
    coordinator = _coordinator(call)
    automation_id = await coordinator.async_accept(
        call.data[ATTR_SUGGESTION_ID], enabled=call.data[ATTR_ENABLED]
    )
    return {"automation_id": automation_id} if call.return_response else None


async def _dismiss(call: ServiceCall) -> None:
    coordinator = _coordinator(call)
    await coordinator.async_dismiss(call.data[ATTR_SUGGESTION_ID])


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions (once, in async_setup)."""
    hass.services.async_register(
        DOMAIN, SERVICE_ANALYZE_PATTERNS, _analyze, ANALYZE_SCHEMA, SupportsResponse.OPTIONAL
    )
    hass.services.async_register(
        DOMAIN, SERVICE_GET_SUGGESTIONS, _get_suggestions, GET_SCHEMA, SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN, SERVICE_ACCEPT_SUGGESTION, _accept, ACCEPT_SCHEMA, SupportsResponse.OPTIONAL
    )
    hass.services.async_register(DOMAIN, SERVICE_DISMISS_SUGGESTION, _dismiss, DISMISS_SCHEMA)
