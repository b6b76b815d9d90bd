"""Fixtures for the HomeIQ Home Assistant tests."""

from __future__ import annotations

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import CONF_MODE, CONF_TOKEN, DOMAIN, MODE_MANAGED


@pytest.fixture
def custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ (not autouse: recorder_mock must come before hass)."""


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """A HomeIQ config entry with a managed sidecar."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="HomeIQ",
        data={CONF_MODE: MODE_MANAGED, CONF_TOKEN: "test-token"},
        unique_id=None,
    )


@pytest.fixture
async def init_integration(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """Set up HomeIQ and return its entry."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry
