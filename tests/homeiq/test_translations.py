"""Every key the code raises or shows exists in strings.json, en.json matches it, and every
other language has every string, with its placeholders, and reaches HA's UI."""

from __future__ import annotations

import json
from pathlib import Path
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations
import pytest

from custom_components.homeiq import issues
from custom_components.homeiq.runtime import UNSUPPORTED_ARCH, UNSUPPORTED_CPU, UNSUPPORTED_MUSL
from custom_components.homeiq.sensor import SENSORS

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "homeiq"
STRINGS = json.loads((PACKAGE / "strings.json").read_text())
EN = json.loads((PACKAGE / "translations" / "en.json").read_text())
LANGUAGES = sorted(p.stem for p in (PACKAGE / "translations").glob("*.json") if p.stem != "en")
PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")


def _strings(tree: object, prefix: str = "") -> dict[str, str]:
    """Key path -> text, in file order."""
    if not isinstance(tree, dict):
        return {prefix: str(tree)}
    found: dict[str, str] = {}
    for key, value in tree.items():
        found |= _strings(value, f"{prefix}/{key}")
    return found


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


def test_the_dashboard_card_languages_are_the_integrations() -> None:
    """The card speaks these languages: the flows, entities and errors speak them too."""
    card = (PACKAGE / "www" / "homeiq-suggestions-card.js").read_text()
    table = card[card.index("const PHRASES = {") : card.index("\n};", card.index("const PHRASES"))]
    card_languages = sorted(set(re.findall(r"^  ([a-z]{2}): \{", table, re.MULTILINE)))
    assert card_languages == LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    """The same keys as English in the same order, no empty text, the same placeholders in
    each, and translated (only names, addresses and the like may read as in English)."""
    english = _strings(EN)
    theirs = _strings(json.loads((PACKAGE / "translations" / f"{language}.json").read_text()))
    assert list(theirs) == list(english)
    for key, text in theirs.items():
        assert text.strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key
    same = [key for key, text in theirs.items() if text == english[key]]
    assert len(same) <= len(english) // 10, same


@pytest.mark.usefixtures("custom_integrations")
async def test_home_assistant_serves_the_users_language(hass: HomeAssistant) -> None:
    """HA's translation loader (what the frontend asks for) finds each language's text for
    the set-up form and the errors, and English for a language HomeIQ does not speak."""
    for language in [*LANGUAGES, "sv"]:
        shipped = "en" if language == "sv" else language
        written = json.loads((PACKAGE / "translations" / f"{shipped}.json").read_text())
        config = await async_get_translations(hass, language, "config", {"homeiq"})
        assert (
            config["component.homeiq.config.step.user.title"]
            == (written["config"]["step"]["user"]["title"])
        )
        errors = await async_get_translations(hass, language, "exceptions", {"homeiq"})
        assert (
            errors["component.homeiq.exceptions.suggestion_covered.message"]
            == (written["exceptions"]["suggestion_covered"]["message"])
        )
