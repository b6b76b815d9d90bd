"""Every key the code raises or shows exists in strings.json, and en.json matches it."""

from __future__ import annotations

import json
from pathlib import Path
import re

from custom_components.homeiq import issues
from custom_components.homeiq.runtime import UNSUPPORTED_ARCH, UNSUPPORTED_CPU, UNSUPPORTED_MUSL
from custom_components.homeiq.sensor import SENSORS

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "homeiq"
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
EN = json.loads((PACKAGE / "translations" / "en.json").read_text())


def test_exception_keys_exist_with_their_placeholders() -> None:
    """translation_key=... in the code -> exceptions.<key>, with the placeholders it passes."""
    source = "\n".join(p.read_text() for p in PACKAGE.glob("*.py"))
    used = set(re.findall(r'translation_key="([a-z_]+)"', source))
    used |= set(re.findall(r'_invalid\(\s*"([a-z_]+)"', source))
    entity_keys = {k for platform in STRINGS["entity"].values() for k in platform}
    used -= entity_keys | {"mode", "precision"}
    for key in used:
        assert key in STRINGS["exceptions"], key
    for key, value in STRINGS["exceptions"].items():
        assert key in used, f"unused exception text {key}"
        assert value["message"].strip()


def test_entities_issues_and_flow_errors_are_translated() -> None:
    """Entity names, issues and config-flow errors."""
    for description in SENSORS:
        assert description.key == description.translation_key
        assert description.key in STRINGS["entity"]["sensor"]
    for issue_id in issues.ALL_ISSUES:
        assert issue_id in STRINGS["issues"]
    for error in (UNSUPPORTED_MUSL, UNSUPPORTED_ARCH, UNSUPPORTED_CPU, "cannot_connect",
                  "invalid_auth", "invalid_response"):  # fmt: skip
        assert error in STRINGS["config"]["error"]
    assert "container" in STRINGS["config"]["error"][UNSUPPORTED_MUSL]


def test_english_matches_strings() -> None:
    """en.json has the same keys as strings.json, with the common references resolved."""

    def keys(tree: object, prefix: str = "") -> set[str]:
        if not isinstance(tree, dict):
            return {prefix}
        return set().union(*(keys(v, f"{prefix}/{k}") for k, v in tree.items()))

    assert keys(STRINGS) == keys(EN)
    assert "[%key:" not in json.dumps(EN)
