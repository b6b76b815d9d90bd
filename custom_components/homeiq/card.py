"""Serve HomeIQ's Lovelace card from the integration itself (no build step, no resource to add)."""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

CARD_FILE = Path(__file__).parent / "www" / "homeiq-suggestions-card.js"
CARD_URL = "/homeiq_static/homeiq-suggestions-card.js"


async def async_register_card(hass: HomeAssistant, version: str) -> None:
    """Serve the card and load it on every dashboard; a no-op without the frontend."""
    if "frontend" not in hass.config.components or hass.http is None:
        return
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)]
    )
    # The version in the URL makes browsers fetch the card again after an update.
    add_extra_js_url(hass, f"{CARD_URL}?v={version}")
