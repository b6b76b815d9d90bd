"""The files HACS and hassfest read: layout rules they enforce, checked without the network."""

from __future__ import annotations

import json
from pathlib import Path
import struct

from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_integration

ROOT = Path(__file__).parents[2]
INTEGRATION = ROOT / "custom_components" / "homeiq"
ML_STACK = ("torch", "openvino", "optimum", "transformers", "nncf", "sentence-transformers")


def _manifest() -> dict[str, object]:
    data: dict[str, object] = json.loads((INTEGRATION / "manifest.json").read_text())
    return data


def test_manifest_key_order_is_hassfests() -> None:
    keys = list(_manifest())
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_declares_what_the_integration_is() -> None:
    manifest = _manifest()
    assert manifest["domain"] == "homeiq"
    assert manifest["config_flow"] is True
    assert "recorder" in manifest["dependencies"]  # type: ignore[operator]
    for key in ("integration_type", "iot_class", "version", "documentation", "issue_tracker"):
        assert manifest[key], key
    assert manifest["codeowners"]


def test_home_assistant_environment_gets_no_ml_stack() -> None:
    # The models run in the sidecar's own environment: HA's stays light (and installable on
    # musl, where these wheels do not exist).
    requirements = [str(r).lower() for r in _manifest()["requirements"]]  # type: ignore[attr-defined]
    assert not [r for r in requirements if r.split("=")[0].split("[")[0].strip() in ML_STACK]


def test_hacs_json_names_the_oldest_supported_release() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == _manifest()["name"]
    assert hacs["homeassistant"] == "2025.4.0"


def test_brand_icons_are_square_pngs_of_hacs_sizes() -> None:
    for name, side in (("icon.png", 256), ("icon@2x.png", 512)):
        head = (INTEGRATION / "brand" / name).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n", name
        assert struct.unpack(">II", head[16:24]) == (side, side), name


async def test_home_assistant_loads_the_manifest(
    hass: HomeAssistant, enable_custom_integrations: None
) -> None:
    integration = await async_get_integration(hass, "homeiq")
    assert integration.config_flow
    assert integration.version is not None
    assert str(integration.version) == _manifest()["version"]
