"""Who can reach the managed sidecar, and where its token goes (issue 7, item 4).

The sidecar is a real process here; its listening sockets are read from /proc, and every log
record of a full managed run is searched for the token.
"""

from __future__ import annotations

from collections.abc import Generator
import json
import logging
import os
from pathlib import Path
import secrets
import subprocess
import sys
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.homeiq.const import (
    CONF_MODE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    MODE_EXTERNAL,
    MODE_MANAGED,
)
from custom_components.homeiq.diagnostics import async_get_config_entry_diagnostics

from .conftest import PACKAGE_DIR, stop_sidecar
from .home import record_home
from .test_e2e import analyze
from .test_init import wait_for

pytestmark = pytest.mark.usefixtures("recorder_mock")

PLATFORM = "custom_components.homeiq.config_flow.managed_unsupported_reason"
TCP_LISTEN = "0A"


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != TCP_LISTEN or inode not in inodes:
                continue
            address, port = local.split(":")
            # /proc prints the address as little-endian 32-bit words.
            raw = bytes.fromhex(address)
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            text = (
                ".".join(str(b) for b in words)
                if len(words) == 4
                else ":".join(words[i : i + 2].hex() for i in range(0, 16, 2))
            )
            found.append((text, int(port, 16)))
    return found


async def managed_flow(hass: HomeAssistant) -> str:
    """Create a managed entry through the config flow, as the user does; returns its id."""
    with patch(PLATFORM, return_value=None):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MODE: MODE_MANAGED}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return str(result["result"].entry_id)


@pytest.mark.usefixtures("fast_supervisor")
async def test_managed_sidecar_loopback_token_from_secrets_never_logged(
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The flow's token comes from `secrets` and lives in the entry; the process listens on
    127.0.0.1 only; the token is in no log record, no argv and no diagnostics."""
    caplog.set_level(logging.DEBUG)
    made: list[str] = []
    real_token = secrets.token_urlsafe

    def spy(nbytes: int | None = None) -> str:
        made.append(real_token(nbytes))
        return made[-1]

    await record_home(hass)
    with patch.object(secrets, "token_urlsafe", spy):
        entry_id = await managed_flow(hass)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    token = entry.data[CONF_TOKEN]
    assert made == [token]
    assert len(token) >= 43  # 32 random bytes

    await hass.async_block_till_done()
    coordinator = entry.runtime_data.coordinator
    supervisor = entry.runtime_data.sidecar.supervisor
    assert supervisor is not None
    await wait_for(lambda: coordinator.connected)
    pid = supervisor.pid
    assert pid is not None
    listening = listening_addresses(pid)
    assert listening, "the sidecar listens on nothing?"
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening
    assert supervisor.url == f"http://127.0.0.1:{listening[0][1]}"
    # argv is readable by every local user: the token goes through the environment.
    assert token not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")

    await analyze(hass, entry)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert token not in json.dumps(diagnostics, default=str)
    assert diagnostics["entry"]["data"][CONF_TOKEN] == "**REDACTED**"
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    assert "sidecar: " in caplog.text  # the sidecar's own output was logged (DEBUG) ...
    assert token not in caplog.text  # ... and no record, of HA or the sidecar, holds the token
    for record in caplog.records:
        assert token not in str(record.args), record.msg


@pytest.fixture
def no_auth_sidecar(tmp_path: Path) -> Generator[str]:
    """A real sidecar started with --no-auth on loopback: it would accept any token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_SIDECAR_")} | {
        "PYTHONPATH": str(PACKAGE_DIR)
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "homeiq_sidecar", "--port", "0", "--no-auth",
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    yield f"http://127.0.0.1:{ready['port']}"
    stop_sidecar(process)


async def test_external_mode_requires_a_token(
    hass: HomeAssistant, custom_integrations: None, no_auth_sidecar: str
) -> None:
    """An empty or blank token is refused before any request, even by a sidecar that needs none."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MODE: MODE_EXTERNAL}
    )
    for token in ("", "   "):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: no_auth_sidecar, CONF_TOKEN: token}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"base": "token_required"}
    assert not hass.config_entries.async_entries(DOMAIN)
