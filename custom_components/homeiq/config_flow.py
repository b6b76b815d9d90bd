"""Config flow for HomeIQ: choose how the sidecar runs."""

from __future__ import annotations

import secrets
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .const import CONF_MODE, CONF_TOKEN, DOMAIN, MODE_EXTERNAL, MODE_MANAGED

USER_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_MODE, default=MODE_MANAGED): SelectSelector(
            SelectSelectorConfig(
                options=[MODE_MANAGED, MODE_EXTERNAL],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_MODE,
            )
        )
    }
)


class HomeIQConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle the HomeIQ config flow."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the sidecar should run."""
        if user_input is not None:
            return self.async_create_entry(
                title="HomeIQ",
                data={CONF_MODE: user_input[CONF_MODE], CONF_TOKEN: secrets.token_urlsafe(32)},
            )
        return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
