"""Diagnostics for HomeIQ: settings, sidecar state and a pattern summary, redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_TOKEN, CONF_URL

if TYPE_CHECKING:
    from . import HomeIQConfigEntry

# Entity ids, areas and habits describe a household's life: personal data.
TO_REDACT = {
    CONF_TOKEN,
    CONF_URL,
    "include_entities",
    "exclude_entities",
    "include_areas",
    "exclude_areas",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomeIQConfigEntry
) -> dict[str, Any]:
    """What helps debugging without exposing the home."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    data = coordinator.data
    supervisor = runtime.sidecar.supervisor
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "sidecar": {
            "mode": runtime.mode,
            "state": runtime.sidecar.state,
            "connected": coordinator.connected,
            "install_error": runtime.sidecar.install_error,
            "restarts": supervisor.restarts if supervisor else None,
            "last_error": supervisor.last_error if supervisor else None,
            # Output lines can name entities; keep only how many there are.
            "log_lines": len(supervisor.log_tail) if supervisor else None,
            "models": coordinator.models,
        },
        "analysis": {
            "last_analysis": data.last_analysis.isoformat() if data.last_analysis else None,
            "duration_s": data.duration_s,
            "events": data.events,
            "summary": data.summary,
            "patterns": len(data.patterns),
            "pattern_types": sorted({str(p.get("type")) for p in data.patterns}),
            "categories": dict(data.category_counts()),
            "decisions": {
                status: sum(1 for d in data.decisions.values() if d.status == status)
                for status in ("accepted", "dismissed")
            },
            # Suggestions left out because one of the user's automations already does them.
            "covered": len(data.covered),
        },
    }
