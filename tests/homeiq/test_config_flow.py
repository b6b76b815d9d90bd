"""Tests for the HomeIQ config flow."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import CONF_MODE, CONF_TOKEN, DOMAIN, MODE_MANAGED

# The recorder is a dependency; recorder_mock must be set up before hass.
pytestmark = pytest.mark.usefixtures("recorder_mock", "custom_integrations")


async def test_user_flow_managed(hass: HomeAssistant) -> None:
    """The happy path creates an entry with a fresh, strong token."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MODE: MODE_MANAGED}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "HomeIQ"
    assert result["data"][CONF_MODE] == MODE_MANAGED
    assert len(result["data"][CONF_TOKEN]) >= 32


async def test_single_instance(hass: HomeAssistant, mock_config_entry: MockConfigEntry) -> None:
    """A second flow aborts: HomeIQ is configured once per home."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"
