"""The dashboard card: served by the integration, its URL changing whenever the file does."""

from __future__ import annotations

import hashlib
from pathlib import Path

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.homeiq import card
from custom_components.homeiq.const import DOMAIN

# The recorder is a dependency; recorder_mock must be set up before hass.
pytestmark = pytest.mark.usefixtures("recorder_mock", "custom_integrations")


def card_urls(hass: HomeAssistant) -> list[str]:
    return [url for url in hass.data[DATA_EXTRA_MODULE_URL].urls if url.startswith(card.CARD_URL)]


async def test_card_served_with_its_hash(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    assert await async_setup_component(hass, DOMAIN, {})
    content = card.CARD_FILE.read_bytes()
    # Browsers keep the file 31 days: the URL carries the file's hash, so an update (even one
    # that keeps the integration's version) is fetched again.
    assert card_urls(hass) == [f"{card.CARD_URL}?v={hashlib.sha256(content).hexdigest()[:12]}"]
    client = await hass_client()
    resp = await client.get(card_urls(hass)[0])
    assert resp.status == 200
    assert await resp.read() == content
    assert "max-age" in resp.headers.get("Cache-Control", "")


async def test_card_url_follows_the_file(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / "card.js"
    changed.write_bytes(card.CARD_FILE.read_bytes() + b"\n// changed\n")
    monkeypatch.setattr(card, "CARD_FILE", changed)
    assert await async_setup_component(hass, "frontend", {})
    assert await async_setup_component(hass, DOMAIN, {})
    assert card_urls(hass) == [
        f"{card.CARD_URL}?v={hashlib.sha256(changed.read_bytes()).hexdigest()[:12]}"
    ]


async def test_no_frontend_no_card(hass: HomeAssistant) -> None:
    # Without the frontend (a headless install) the integration sets up and serves nothing.
    assert await async_setup_component(hass, DOMAIN, {})
    assert DATA_EXTRA_MODULE_URL not in hass.data
