"""HomeIQ: learns the habits of a home and suggests automations, with local models."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import CONF_MODE


@dataclass(kw_only=True)
class HomeIQRuntimeData:
    """What a loaded HomeIQ entry holds while it runs."""

    mode: str


type HomeIQConfigEntry = ConfigEntry[HomeIQRuntimeData]


async def async_setup_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Set up HomeIQ from a config entry: restore state only, no analysis (fast setup)."""
    entry.runtime_data = HomeIQRuntimeData(mode=entry.data[CONF_MODE])
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Unload a config entry."""
    return True
