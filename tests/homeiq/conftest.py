"""Fixtures for the HomeIQ Home Assistant tests: a real sidecar process, entries, a config dir."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
import json
import logging
import os
from pathlib import Path
import select
import subprocess
import sys
import time
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq import supervisor
from custom_components.homeiq.const import (
    CONF_MODE,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    ENV_SIDECAR_PYTHON,
    MODE_EXTERNAL,
    MODE_MANAGED,
)
from custom_components.homeiq.coordinator import STORAGE_VERSION
from tests.export.tiny_models import OUT as TEST_MODELS, converted_entries

# pytest-homeassistant-custom-component sets SQLAlchemy's engine logger to INFO at import, which
# prints every recorder statement into the test output; the recorder's own logs are enough.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "custom_components" / "homeiq"
SIDECAR_TOKEN = "test-token-0123456789"
MODEL_ROLES = ("embed", "rerank", "classify")
# scripts/test sets this: there the tiny models are built first, so missing ones are a failure.
ENV_REQUIRE_TEST_MODELS = "HOMEIQ_REQUIRE_TEST_MODELS"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """The sidecar is a real process on 127.0.0.1: let tests open sockets."""


@pytest.fixture
def custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ (not autouse: recorder_mock must come before hass)."""


def start_sidecar(
    data_dir: Path, token: str, *, port: int = 0, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A real sidecar process on loopback (this venv has OpenVINO); returns it and its URL.

    Only `env` configures it: HOMEIQ_SIDECAR_* settings of this process (a test's monkeypatch)
    are not inherited, so a sidecar without `env` always runs without models.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_SIDECAR_")}
    env = {
        **inherited,
        **(env or {}),
        "PYTHONPATH": str(PACKAGE_DIR),
        "HOMEIQ_SIDECAR_TOKEN": token,
    }
    with (data_dir / "sidecar.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "homeiq_sidecar", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=log, env=env,
        )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if not line:
                break
            message = json.loads(line)
            if message.get("event") == "ready":
                return process, f"http://127.0.0.1:{message['port']}"
    process.kill()
    process.wait()
    raise RuntimeError(f"sidecar did not start: {(data_dir / 'sidecar.log').read_text()}")


def stop_sidecar(process: subprocess.Popen[bytes]) -> None:
    """Terminate a sidecar started by start_sidecar (kill it if it does not stop)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def tiny_models_required() -> bool:
    """True under scripts/test (or CI): missing tiny models fail the tests instead of skipping."""
    return any(
        os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
        for name in ("CI", ENV_REQUIRE_TEST_MODELS)
    )


def tiny_model_env(models: dict[str, str]) -> dict[str, str]:
    """Sidecar settings that load the given models and never reach for a model hub."""
    return {
        **{f"HOMEIQ_SIDECAR_{role.upper()}_MODEL": path for role, path in models.items()},
        "HOMEIQ_SIDECAR_NO_CONVERT": "1",
    }


@pytest.fixture(scope="session")
def tiny_model_paths() -> dict[str, str]:
    """The tiny models by role; skips (fails under scripts/test or CI) when they are not built."""
    models = converted_entries()
    if missing := [role for role in MODEL_ROLES if role not in models]:
        reason = (
            f"the tiny test models are not built ({', '.join(missing)} missing under"
            f" {TEST_MODELS}): run scripts/setup test-models"
        )
        if tiny_models_required():
            pytest.fail(f"{reason} ({ENV_REQUIRE_TEST_MODELS} or CI is set)", pytrace=False)
        pytest.skip(reason)
    return models


@pytest.fixture(scope="session")
def tiny_sidecar_url(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_paths: dict[str, str]
) -> Generator[str]:
    """A second session sidecar (an external container) that runs the tiny models."""
    process, url = start_sidecar(
        tmp_path_factory.mktemp("tiny-sidecar"), SIDECAR_TOKEN, env=tiny_model_env(tiny_model_paths)
    )
    yield url
    stop_sidecar(process)


@pytest.fixture
def managed_tiny_models(
    monkeypatch: pytest.MonkeyPatch, tiny_model_paths: dict[str, str]
) -> dict[str, str]:
    """A managed sidecar started by this test loads the tiny models (it inherits HA's env)."""
    for name, value in tiny_model_env(tiny_model_paths).items():
        monkeypatch.setenv(name, value)
    return tiny_model_paths


@pytest.fixture(scope="session")
def sidecar_url(tmp_path_factory: pytest.TempPathFactory) -> Generator[str]:
    """One real sidecar for the whole session (stands for the external container)."""
    process, url = start_sidecar(tmp_path_factory.mktemp("sidecar"), SIDECAR_TOKEN)
    yield url
    stop_sidecar(process)


@pytest.fixture
def config_dir(recorder_mock: Recorder, hass: HomeAssistant, tmp_path: Path) -> Path:
    """A writable config folder (automations.yaml, the managed sidecar's data)."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "configuration.yaml").write_text("automation: !include automations.yaml\n")
    (tmp_path / "automations.yaml").write_text("[]\n")
    return tmp_path


@pytest.fixture
def fast_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The managed sidecar runs from this venv, restarts quickly."""
    monkeypatch.setenv(ENV_SIDECAR_PYTHON, sys.executable)
    monkeypatch.setattr(supervisor, "RESPAWN_BACKOFF", (0.2,))
    monkeypatch.setattr(supervisor, "READY_TIMEOUT", 60.0)


@pytest.fixture
def mock_config_entry(sidecar_url: str) -> MockConfigEntry:
    """A HomeIQ entry using the session's sidecar as an external container."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="HomeIQ",
        data={CONF_MODE: MODE_EXTERNAL, CONF_URL: sidecar_url, CONF_TOKEN: SIDECAR_TOKEN},
        entry_id="01HOMEIQENTRY0000000000000",
    )


@pytest.fixture
def managed_config_entry() -> MockConfigEntry:
    """A HomeIQ entry with a managed sidecar."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="HomeIQ",
        data={CONF_MODE: MODE_MANAGED, CONF_TOKEN: "managed-token-0123456789"},
        entry_id="01HOMEIQMANAGED00000000000",
    )


@pytest.fixture
async def stored_results(
    recorder_mock: Recorder, hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> dict[str, Any]:
    """A previous analysis in .storage (three patterns, one of them automated already)."""
    data = json.loads((Path(__file__).parent / "fixtures" / "stored.json").read_text())
    store: Store[dict[str, Any]] = Store(
        hass, STORAGE_VERSION, f"{DOMAIN}.{mock_config_entry.entry_id}"
    )
    await store.async_save(data)
    return data


@pytest.fixture
async def loaded_with_results(
    stored_results: dict[str, Any], init_integration: MockConfigEntry
) -> MockConfigEntry:
    """HomeIQ set up on top of stored results, connected to the real sidecar."""
    coordinator = init_integration.runtime_data.coordinator
    assert await coordinator.async_check_sidecar()
    return init_integration


@pytest.fixture
async def init_integration(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_dir: Path,
    custom_integrations: None,
    mock_config_entry: MockConfigEntry,
) -> AsyncGenerator[MockConfigEntry]:
    """Set up HomeIQ against the real sidecar and return its entry."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
