"""Config flow for HomeIQ: how the sidecar runs, its options, and reconfiguration."""

from __future__ import annotations

from collections.abc import Mapping
import secrets
from typing import Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    AreaSelector,
    AreaSelectorConfig,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
    TimeSelector,
)
import voluptuous as vol

from .api import HomeIQApiError, HomeIQAuthError, HomeIQClient, HomeIQConnectionError
from .const import (
    CONF_ANALYSIS_TIME,
    CONF_EXCLUDE_AREAS,
    CONF_EXCLUDE_DOMAINS,
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_AREAS,
    CONF_INCLUDE_DOMAINS,
    CONF_INCLUDE_ENTITIES,
    CONF_LOOKBACK_DAYS,
    CONF_MAX_SUGGESTIONS,
    CONF_MIN_CONFIDENCE,
    CONF_MODE,
    CONF_PRECISION,
    CONF_TOKEN,
    CONF_URL,
    DEFAULT_ANALYSIS_TIME,
    DEFAULT_DOMAINS,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_SUGGESTIONS,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_PRECISION,
    DOMAIN,
    LOGGER,
    MAX_LOOKBACK_DAYS,
    MODE_EXTERNAL,
    MODE_MANAGED,
    PRECISIONS,
)
from .runtime import managed_unsupported_reason

MODE_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[MODE_MANAGED, MODE_EXTERNAL],
        mode=SelectSelectorMode.LIST,
        translation_key=CONF_MODE,
    )
)
EXTERNAL_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
        vol.Required(CONF_TOKEN): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
    }
)


async def validate_external(hass: HomeAssistant, url: str, token: str) -> str | None:
    """Check `/health` and one authenticated call; return an error key or None."""
    if not token.strip():
        # A sidecar reachable over the network must demand a token, even one started --no-auth.
        return "token_required"
    client = HomeIQClient(async_get_clientsession(hass), url, token)
    try:
        await client.health()
        await client.models()
    except HomeIQAuthError:
        return "invalid_auth"
    except HomeIQConnectionError:
        return "cannot_connect"
    except HomeIQApiError:
        LOGGER.debug("Unexpected reply from the sidecar at %s", url, exc_info=True)
        return "invalid_response"
    return None


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class HomeIQConfigFlow(ConfigFlow, domain=DOMAIN):
    """Handle the HomeIQ config flow."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HomeIQOptionsFlow:
        """Options: schedule, window, filters, thresholds, precision."""
        return HomeIQOptionsFlow()

    async def _managed_error(self) -> str | None:
        # Reading /proc/cpuinfo is blocking I/O.
        return await self.hass.async_add_executor_job(managed_unsupported_reason)

    def _mode_schema(self, default: str) -> vol.Schema:
        return vol.Schema({vol.Required(CONF_MODE, default=default): MODE_SELECTOR})

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask how the sidecar should run; managed is refused where OpenVINO cannot run."""
        errors: dict[str, str] = {}
        unsupported = await self._managed_error()
        if user_input is not None:
            if user_input[CONF_MODE] == MODE_EXTERNAL:
                return await self.async_step_external()
            if unsupported is None:
                return self.async_create_entry(
                    title="HomeIQ", data={CONF_MODE: MODE_MANAGED, CONF_TOKEN: _new_token()}
                )
            errors["base"] = unsupported
        default = MODE_EXTERNAL if unsupported else MODE_MANAGED
        return self.async_show_form(
            step_id="user", data_schema=self._mode_schema(default), errors=errors
        )

    async def async_step_external(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """URL and token of a sidecar container, checked before the entry is created."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].rstrip("/")
            if error := await validate_external(self.hass, url, user_input[CONF_TOKEN]):
                errors["base"] = error
            else:
                return self.async_create_entry(
                    title="HomeIQ",
                    data={
                        CONF_MODE: MODE_EXTERNAL,
                        CONF_URL: url,
                        CONF_TOKEN: user_input[CONF_TOKEN],
                    },
                )
        return self.async_show_form(
            step_id="external",
            data_schema=self.add_suggested_values_to_schema(EXTERNAL_SCHEMA, user_input),
            errors=errors,
        )

    def _save_and_abort(self, entry: ConfigEntry, data: Mapping[str, Any]) -> ConfigFlowResult:
        """Save the entry's new data and finish; the entry reloads once.

        Not ``async_update_reload_and_abort``: a loaded entry's update listener (__init__.py)
        already reloads it on the change, and a second reload killed the managed sidecar the
        first one was starting (HA 2026 also warns about it). An entry with no listener (its
        set-up failed) or no change (the same token again) is reloaded here.
        """
        # Read before the update: the listener's reload starts eagerly and its unload removes
        # the listener before async_update_entry returns.
        listening = bool(entry.update_listeners)
        changed = self.hass.config_entries.async_update_entry(entry, data=data)
        if not changed or not listening:
            self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_abort(
            reason="reauth_successful" if self.source == SOURCE_REAUTH else "reconfigure_successful"
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The container refused the token."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the container's current token and check it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = entry.data[CONF_URL]
            if error := await validate_external(self.hass, url, user_input[CONF_TOKEN]):
                errors["base"] = error
            else:
                return self._save_and_abort(
                    entry, {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_TOKEN): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"url": entry.data.get(CONF_URL, "")},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Switch between managed and external, or change the container's address."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_MODE] == MODE_EXTERNAL:
                return await self.async_step_reconfigure_external()
            if (unsupported := await self._managed_error()) is None:
                token = (
                    entry.data[CONF_TOKEN]
                    if entry.data[CONF_MODE] == MODE_MANAGED
                    else _new_token()
                )
                return self._save_and_abort(entry, {CONF_MODE: MODE_MANAGED, CONF_TOKEN: token})
            errors["base"] = unsupported
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self._mode_schema(entry.data[CONF_MODE]),
            errors=errors,
        )

    async def async_step_reconfigure_external(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """New URL and token for the container."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].rstrip("/")
            if error := await validate_external(self.hass, url, user_input[CONF_TOKEN]):
                errors["base"] = error
            else:
                return self._save_and_abort(
                    entry,
                    {CONF_MODE: MODE_EXTERNAL, CONF_URL: url, CONF_TOKEN: user_input[CONF_TOKEN]},
                )
        suggested = user_input or {CONF_URL: entry.data.get(CONF_URL, "")}
        return self.async_show_form(
            step_id="reconfigure_external",
            data_schema=self.add_suggested_values_to_schema(EXTERNAL_SCHEMA, suggested),
            errors=errors,
        )


def options_schema() -> vol.Schema:
    """Every option, with its default."""
    multi_entity = EntitySelector(EntitySelectorConfig(multiple=True))
    multi_area = AreaSelector(AreaSelectorConfig(multiple=True))
    domains = SelectSelector(
        SelectSelectorConfig(
            options=list(DEFAULT_DOMAINS), multiple=True, custom_value=True, sort=True
        )
    )
    return vol.Schema(
        {
            vol.Required(CONF_ANALYSIS_TIME, default=DEFAULT_ANALYSIS_TIME): TimeSelector(),
            vol.Required(CONF_LOOKBACK_DAYS, default=DEFAULT_LOOKBACK_DAYS): NumberSelector(
                NumberSelectorConfig(
                    min=1,
                    max=MAX_LOOKBACK_DAYS,
                    step=1,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement="days",
                )
            ),
            vol.Optional(CONF_INCLUDE_ENTITIES): multi_entity,
            vol.Optional(CONF_EXCLUDE_ENTITIES): multi_entity,
            vol.Optional(CONF_INCLUDE_DOMAINS): domains,
            vol.Optional(CONF_EXCLUDE_DOMAINS): domains,
            vol.Optional(CONF_INCLUDE_AREAS): multi_area,
            vol.Optional(CONF_EXCLUDE_AREAS): multi_area,
            vol.Required(CONF_MIN_CONFIDENCE, default=DEFAULT_MIN_CONFIDENCE): NumberSelector(
                NumberSelectorConfig(min=0.05, max=1.0, step=0.05, mode=NumberSelectorMode.SLIDER)
            ),
            vol.Required(CONF_MAX_SUGGESTIONS, default=DEFAULT_MAX_SUGGESTIONS): NumberSelector(
                NumberSelectorConfig(min=1, max=100, step=1, mode=NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_PRECISION, default=DEFAULT_PRECISION): SelectSelector(
                SelectSelectorConfig(options=list(PRECISIONS), translation_key=CONF_PRECISION)
            ),
        }
    )


class HomeIQOptionsFlow(OptionsFlow):
    """HomeIQ options; saving reloads the entry (update listener)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form with every option."""
        errors: dict[str, str] = {}
        if user_input is not None:
            overlap = set(user_input.get(CONF_INCLUDE_ENTITIES) or ()) & set(
                user_input.get(CONF_EXCLUDE_ENTITIES) or ()
            )
            if overlap:
                errors[CONF_EXCLUDE_ENTITIES] = "include_exclude_overlap"
            else:
                options = {
                    **user_input,
                    CONF_LOOKBACK_DAYS: int(user_input[CONF_LOOKBACK_DAYS]),
                    CONF_MAX_SUGGESTIONS: int(user_input[CONF_MAX_SUGGESTIONS]),
                }
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                options_schema(), user_input or dict(self.config_entry.options)
            ),
            errors=errors,
        )
