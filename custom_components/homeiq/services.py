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
from .permissions import async_require_admin

if TYPE_CHECKING:
    from . import HomeIQConfigEntry
    from .coordinator import HomeIQCoordinator
    from .data import HomeIQData

# The schemas take any value: each is checked below, so that every bad value gets a translated
# ServiceValidationError rather than voluptuous' untranslated error (found by fuzzing).
ANY = object
ENTRY_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): ANY})
ANALYZE_SCHEMA = ENTRY_SCHEMA.extend(
    {vol.Optional(ATTR_LOOKBACK_DAYS): ANY, vol.Optional(ATTR_ENTITY_ID): ANY}
)
GET_SCHEMA = ENTRY_SCHEMA.extend({vol.Optional(ATTR_STATUS): ANY})
ACCEPT_SCHEMA = ENTRY_SCHEMA.extend(
    {vol.Required(ATTR_SUGGESTION_ID): ANY, vol.Optional(ATTR_ENABLED, default=True): ANY}
)
DISMISS_SCHEMA = ENTRY_SCHEMA.extend({vol.Required(ATTR_SUGGESTION_ID): ANY})
STATUSES = (STATUS_NEW, STATUS_ACCEPTED, STATUS_DISMISSED, "all")


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _shown(value: Any) -> str:
    """A bad value as the error message shows it (bounded: it may be anything)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else f"{text[:100]}..."


def _coordinator(call: ServiceCall) -> HomeIQCoordinator:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: HomeIQConfigEntry | None = (
        call.hass.config_entries.async_get_entry(entry_id) if isinstance(entry_id, str) else None
    )
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("invalid_config_entry", config_entry_id=_shown(entry_id))
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", title=entry.title)
    return entry.runtime_data.coordinator


def _lookback(value: Any) -> int | None:
    if value is None:
        return None
    days: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    elif isinstance(value, float) and value.is_integer():
        days = int(value)  # the UI's number selector sends 7.0
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        days = int(value)
    if days is None or not 1 <= days <= MAX_LOOKBACK_DAYS:
        raise _invalid("invalid_lookback_days", value=_shown(value), max=str(MAX_LOOKBACK_DAYS))
    return days


def _entities(hass: HomeAssistant, value: Any) -> list[str] | None:
    if value is None:
        return None
    wanted = [value] if isinstance(value, str) else value
    if not isinstance(wanted, list) or not all(isinstance(e, str) for e in wanted):
        raise _invalid("unknown_entities", entity_ids=_shown(value))
    registry = er.async_get(hass)
    unknown = [
        e
        for e in wanted
        if not valid_entity_id(e) or (hass.states.get(e) is None and registry.async_get(e) is None)
    ]
    if unknown or not wanted:
        raise _invalid("unknown_entities", entity_ids=_shown(", ".join(unknown)) or "-")
    return wanted


def _suggestion_id(call: ServiceCall) -> str:
    value = call.data[ATTR_SUGGESTION_ID]
    if not isinstance(value, str):
        raise _invalid("unknown_suggestion", suggestion_id=_shown(value))
    return value


def _enabled(value: Any) -> bool:
    try:
        return bool(cv.boolean(value))
    except (vol.Invalid, TypeError) as err:
        raise _invalid("invalid_enabled", value=_shown(value)) from err


def _pattern_json(data: HomeIQData, pattern: dict[str, Any]) -> dict[str, Any]:
    return {
        **pattern,
        "status": data.status(pattern),
        "covered_by": data.covered.get(pattern["id"]),
    }


# What the dashboard card needs to say a habit in the user's language (the description is
# English): entity ids, states, times and counts, named and worded by the card.
HABIT_FIELDS = (
    "type",
    "steps",
    "together",
    "together_at_once",
    "time",
    "weekdays",
    "sun",
    "delay_s",
    "occurrences",
    "days_seen",
)


def _suggestion_json(data: HomeIQData, pattern: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": pattern["id"],
        "status": data.status(pattern),
        "description": pattern.get("description"),
        "confidence": pattern.get("confidence"),
        "category": pattern.get("category"),
        "priority": pattern.get("priority"),
        "automation": pattern["suggestion"],
        "habit": {key: pattern.get(key) for key in HABIT_FIELDS},
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
    if not isinstance(status, str) or status not in STATUSES:
        raise _invalid("invalid_status", value=_shown(status), allowed=", ".join(STATUSES))
    data = coordinator.data
    found = data.suggestions(None if status == "all" else status)
    if status == STATUS_NEW:
        found = found[: coordinator.max_suggestions]
    return {"suggestions": [_suggestion_json(data, p) for p in found]}


async def _accept(call: ServiceCall) -> ServiceResponse:
    await async_require_admin(call.hass, call.context)
    coordinator = _coordinator(call)
    suggestion_id = _suggestion_id(call)
    automation_id = await coordinator.async_accept(
        suggestion_id, enabled=_enabled(call.data[ATTR_ENABLED]), context=call.context
    )
    return {"automation_id": automation_id} if call.return_response else None


async def _dismiss(call: ServiceCall) -> None:
    await async_require_admin(call.hass, call.context)
    coordinator = _coordinator(call)
    await coordinator.async_dismiss(_suggestion_id(call))


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
