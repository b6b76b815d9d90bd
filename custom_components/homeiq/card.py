"""Serve HomeIQ's Lovelace card from the integration itself (no build step, no resource to add)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

CARD_FILE = Path(__file__).parent / "www" / "homeiq-suggestions-card.js"
CARD_URL = "/homeiq_static/homeiq-suggestions-card.js"


def card_fingerprint() -> str:
    """A short hash of the card file (reads the file: call it off the event loop)."""
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


async def async_register_card(hass: HomeAssistant) -> None:
    """Serve the card and load it on every dashboard; a no-op without the frontend."""
    if "frontend" not in hass.config.components or hass.http is None:
        return
    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=True)]
    )
    # The file is served with 31-day cache headers, so the URL must change whenever the file
    # does: its hash, not the integration's version (a HACS update of the card alone, or a
    # development copy, keeps the version).
    fingerprint = await hass.async_add_executor_job(card_fingerprint)
    add_extra_js_url(hass, f"{CARD_URL}?v={fingerprint}")
