"""Tests for the HomeIQ config, options and reconfigure flows (against a real sidecar)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from unittest.mock import patch

from aiohttp import web
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components import homeiq
from custom_components.homeiq.const import (
    CONF_ANALYSIS_TIME,
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_ENTITIES,
    CONF_LOOKBACK_DAYS,
    CONF_MAX_SUGGESTIONS,
    CONF_MIN_CONFIDENCE,
    CONF_MODE,
    CONF_PRECISION,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    MODE_EXTERNAL,
    MODE_MANAGED,
)
from custom_components.homeiq.runtime import UNSUPPORTED_MUSL

from .conftest import SIDECAR_TOKEN
from .test_init import wait_for

# The recorder is a dependency; recorder_mock must be set up before hass.
pytestmark = pytest.mark.usefixtures("recorder_mock", "custom_integrations")

# The host's platform decides whether managed mode is offered; tests pick it explicitly.
PLATFORM = "custom_components.homeiq.config_flow.managed_unsupported_reason"


@pytest.fixture
async def not_a_sidecar() -> AsyncGenerator[str]:
    """A real HTTP server on loopback that is not a HomeIQ sidecar."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html>router</html>")

    app = web.Application()
    app.router.add_get("/health", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_user_flow_managed(hass: HomeAssistant) -> None:
    """The happy path creates an entry with a fresh, strong token."""
    with patch(PLATFORM, return_value=None):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "user"
        with patch("custom_components.homeiq.async_setup_entry", return_value=True):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_MODE: MODE_MANAGED}
            )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "HomeIQ"
    assert result["data"][CONF_MODE] == MODE_MANAGED
    assert len(result["data"][CONF_TOKEN]) >= 32


async def test_managed_refused_on_musl_then_external(hass: HomeAssistant, sidecar_url: str) -> None:
    """On musl managed mode is refused with a pointer to the container; external works."""
    with patch(PLATFORM, return_value=UNSUPPORTED_MUSL):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_MANAGED}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": UNSUPPORTED_MUSL}

        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_EXTERNAL}
        )
        assert result["step_id"] == "external"
        with patch("custom_components.homeiq.async_setup_entry", return_value=True):
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_URL: sidecar_url + "/", CONF_TOKEN: SIDECAR_TOKEN}
            )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_MODE: MODE_EXTERNAL,
        CONF_URL: sidecar_url,
        CONF_TOKEN: SIDECAR_TOKEN,
    }


async def test_external_errors_and_recovery(
    hass: HomeAssistant, sidecar_url: str, not_a_sidecar: str, unused_tcp_port: int
) -> None:
    """Each error is shown on the form; fixing the input creates the entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MODE: MODE_EXTERNAL}
    )
    for url, token, error in (
        (f"http://127.0.0.1:{unused_tcp_port}", SIDECAR_TOKEN, "cannot_connect"),
        (sidecar_url, "wrong-token", "invalid_auth"),
        (not_a_sidecar, SIDECAR_TOKEN, "invalid_response"),
        (sidecar_url, "   ", "token_required"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: url, CONF_TOKEN: token}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": error}, url

    with patch("custom_components.homeiq.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: sidecar_url, CONF_TOKEN: SIDECAR_TOKEN}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_single_instance(hass: HomeAssistant, mock_config_entry: MockConfigEntry) -> None:
    """A second flow aborts: HomeIQ is configured once per home."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"


async def test_options_flow(hass: HomeAssistant, mock_config_entry: MockConfigEntry) -> None:
    """Options are validated (include/exclude overlap), then saved with whole numbers."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    base = {
        CONF_ANALYSIS_TIME: "04:30:00",
        CONF_LOOKBACK_DAYS: 14.0,
        CONF_MIN_CONFIDENCE: 0.7,
        CONF_MAX_SUGGESTIONS: 5.0,
        CONF_PRECISION: "fp32",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {**base, CONF_INCLUDE_ENTITIES: ["light.a"], CONF_EXCLUDE_ENTITIES: ["light.a"]},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_EXCLUDE_ENTITIES: "include_exclude_overlap"}

    with patch("custom_components.homeiq.async_setup_entry", return_value=True):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**base, CONF_EXCLUDE_ENTITIES: ["light.a"]}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options[CONF_LOOKBACK_DAYS] == 14
    assert isinstance(mock_config_entry.options[CONF_LOOKBACK_DAYS], int)
    assert mock_config_entry.options[CONF_MAX_SUGGESTIONS] == 5
    assert mock_config_entry.options[CONF_EXCLUDE_ENTITIES] == ["light.a"]


async def test_reconfigure_external_then_managed(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, sidecar_url: str
) -> None:
    """Reconfigure: a good container address is saved; then back to managed."""
    mock_config_entry.add_to_hass(hass)
    with patch("custom_components.homeiq.async_setup_entry", return_value=True):
        result = await mock_config_entry.start_reconfigure_flow(hass)
        assert result["step_id"] == "reconfigure"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_EXTERNAL}
        )
        assert result["step_id"] == "reconfigure_external"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: sidecar_url, CONF_TOKEN: SIDECAR_TOKEN}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"

        with patch(PLATFORM, return_value=None):
            result = await mock_config_entry.start_reconfigure_flow(hass)
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_MODE: MODE_MANAGED}
            )
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.data[CONF_MODE] == MODE_MANAGED
    assert mock_config_entry.data[CONF_TOKEN] != SIDECAR_TOKEN  # a fresh token for managed
    assert CONF_URL not in mock_config_entry.data


@pytest.mark.parametrize(
    ("target", "token", "error"),
    [
        ("closed_port", SIDECAR_TOKEN, "cannot_connect"),
        ("sidecar", "wrong-token", "invalid_auth"),
        ("not_a_sidecar", SIDECAR_TOKEN, "invalid_response"),
        ("sidecar", "   ", "token_required"),
    ],
)
async def test_reconfigure_external_error_and_recovery(
    hass: HomeAssistant,
    sidecar_url: str,
    not_a_sidecar: str,
    unused_tcp_port: int,
    target: str,
    token: str,
    error: str,
) -> None:
    """Each error of the container check is shown and changes nothing; a fix saves the entry."""
    old_data = {CONF_MODE: MODE_EXTERNAL, CONF_URL: "http://192.0.2.1:8018", CONF_TOKEN: "old"}
    entry = MockConfigEntry(domain=DOMAIN, title="HomeIQ", data=old_data)
    entry.add_to_hass(hass)
    url = {
        "closed_port": f"http://127.0.0.1:{unused_tcp_port}",
        "sidecar": sidecar_url,
        "not_a_sidecar": not_a_sidecar,
    }[target]
    with patch("custom_components.homeiq.async_setup_entry", return_value=True) as setup:
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_EXTERNAL}
        )
        assert result["step_id"] == "reconfigure_external"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: url, CONF_TOKEN: token}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "reconfigure_external"
        assert result["errors"] == {"base": error}
        # The form keeps what was typed, and the entry is untouched.
        schema_url = next(k for k in result["data_schema"].schema if k == CONF_URL)
        assert schema_url.description == {"suggested_value": url}
        assert entry.data == old_data
        assert not setup.called

        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: sidecar_url + "/", CONF_TOKEN: SIDECAR_TOKEN}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        CONF_MODE: MODE_EXTERNAL,
        CONF_URL: sidecar_url,
        CONF_TOKEN: SIDECAR_TOKEN,
    }


async def test_reconfigure_managed_refused_on_musl(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Reconfiguring to managed on musl shows the error."""
    mock_config_entry.add_to_hass(hass)
    with patch(PLATFORM, return_value=UNSUPPORTED_MUSL):
        result = await mock_config_entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_MANAGED}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": UNSUPPORTED_MUSL}


async def test_reauth_when_container_token_changes(
    hass: HomeAssistant, config_dir: Path, sidecar_url: str
) -> None:
    """A refused token starts reauth; a wrong token is refused, the right one saved, and the
    entry reloads once (its update listener; a second reload would stop a sidecar starting)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: sidecar_url, CONF_TOKEN: "old-token"},
    )
    entry.add_to_hass(hass)
    counting = patch("custom_components.homeiq.async_setup_entry", wraps=homeiq.async_setup_entry)
    setups = counting.start()
    assert await hass.config_entries.async_setup(entry.entry_id)
    # The first sidecar check runs in the background, after setup.
    await wait_for(lambda: hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == "reauth"
    flow_id = flows[0]["flow_id"]

    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_TOKEN: "still-wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_TOKEN: SIDECAR_TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == SIDECAR_TOKEN
    await wait_for(lambda: entry.runtime_data.coordinator.connected)
    await hass.async_block_till_done()
    counting.stop()  # this patch only: patch.stopall() also ends the test harness's patches
    assert setups.call_count == 2  # the first set-up and one reload
    await hass.config_entries.async_unload(entry.entry_id)
