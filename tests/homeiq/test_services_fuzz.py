"""Property-based fuzzing of the four HomeIQ actions (issue 7, bad input).

Hypothesis draws invalid config entry ids, suggestion ids, look-backs, entity lists, statuses
and `enabled` values of every JSON type; each call must fail with a ServiceValidationError whose
translation key is in strings.json, never with another exception (vol.Invalid, TypeError, ...).
The cases are drawn first (hypothesis' generate phase, derandomized so a failure repeats) and
then called on the real integration in the test's event loop, which hypothesis cannot enter.
"""

from __future__ import annotations

from collections import Counter
import json
from pathlib import Path
import string
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN, MAX_LOOKBACK_DAYS

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings, strategies as st  # noqa: E402

pytestmark = [pytest.mark.usefixtures("recorder_mock"), pytest.mark.timeout(300)]

STRINGS = json.loads(
    (
        Path(__file__).resolve().parents[2] / "custom_components" / "homeiq" / "strings.json"
    ).read_text()
)
EXCEPTIONS = STRINGS["exceptions"]
# The stored fixture's pattern ids: a real one would accept or dismiss for real.
REAL_IDS = ("tod-light-kitchen-on-0700", "ta-door-hallway", "tod-switch-pump-on-2130")
CASES_PER_ACTION = 50

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", " ", "../../etc/passwd", "light.kitchen; drop table", "\u202eevil", "💡", "x" * 300]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def bad_lookback(value: Any) -> bool:
    """True unless `value` is a look-back the action would accept (1..max whole days)."""
    if value is None or isinstance(value, bool):
        return value is not None
    if isinstance(value, int):
        return not 1 <= value <= MAX_LOOKBACK_DAYS
    if isinstance(value, float):
        return not (value.is_integer() and 1 <= value <= MAX_LOOKBACK_DAYS)
    if isinstance(value, str):
        text = value.strip()
        return not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LOOKBACK_DAYS)
    return True


ENTITY_IDS = (
    st.sampled_from(["light.nowhere", "not an entity", "", "light.", ".kitchen", "LIGHT.X"])
    | TEXT
    | st.lists(TEXT, max_size=3)
    | ANY_VALUE.filter(lambda v: v is not None and not isinstance(v, str | list))
)


@st.composite
def action_call(draw: st.DrawFn, entry_id: str) -> tuple[str, dict[str, Any]]:
    """One action with exactly one invalid field (so it never does real work)."""
    action = draw(
        st.sampled_from(
            ["analyze_patterns", "get_suggestions", "accept_suggestion", "dismiss_suggestion"]
        )
    )
    fields = {
        "analyze_patterns": ["config_entry_id", "lookback_days", "entity_id"],
        "get_suggestions": ["config_entry_id", "status"],
        "accept_suggestion": ["config_entry_id", "suggestion_id", "enabled"],
        "dismiss_suggestion": ["config_entry_id", "suggestion_id"],
    }[action]
    bad = draw(st.sampled_from(fields))
    data: dict[str, Any] = {"config_entry_id": entry_id}
    if bad == "config_entry_id":
        data["config_entry_id"] = draw(ANY_VALUE.filter(lambda v: v != entry_id))
    if action == "analyze_patterns":
        if bad == "lookback_days":
            data["lookback_days"] = draw(ANY_VALUE.filter(bad_lookback))
        elif draw(st.booleans()):
            data["lookback_days"] = draw(st.integers(1, MAX_LOOKBACK_DAYS))
        if bad == "entity_id":
            data["entity_id"] = draw(ENTITY_IDS)
    elif action == "get_suggestions":
        if bad == "status" or draw(st.booleans()):
            data["status"] = draw(
                ANY_VALUE.filter(lambda v: v not in ("new", "accepted", "dismissed", "all"))
                if bad == "status"
                else st.sampled_from(["new", "accepted", "dismissed", "all"])
            )
    elif bad == "suggestion_id" or (action == "dismiss_suggestion" and bad != "config_entry_id"):
        data["suggestion_id"] = draw(ANY_VALUE.filter(lambda v: v not in REAL_IDS))
    else:
        # A real id: with a bad entry or a bad `enabled`, nothing may be decided.
        data["suggestion_id"] = draw(st.sampled_from(REAL_IDS))
        if bad == "enabled":
            data["enabled"] = draw(ANY_VALUE.filter(lambda v: not boolean_like(v)))
    return action, data


def boolean_like(value: Any) -> bool:
    """What Home Assistant's cv.boolean accepts."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower().strip() in {"1", "true", "yes", "on", "enable", "0", "false",
                                         "no", "off", "disable"}  # fmt: skip
    return isinstance(value, int | float) and not isinstance(value, bool)


def draw_cases(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` examples of `strategy`, the same ones every run."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        found.append(case)

    collect()
    return found


async def test_fuzz_actions_raise_translated_errors(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """Every invalid call: ServiceValidationError, a known translation key, nothing else."""
    entry_id = loaded_with_results.entry_id
    cases = draw_cases(action_call(entry_id), 4 * CASES_PER_ACTION)
    keys: Counter[str] = Counter()
    for action, data in cases:
        error: ServiceValidationError | None = None
        try:
            await hass.services.async_call(
                DOMAIN, action, data, blocking=True, return_response=action != "dismiss_suggestion"
            )
        except ServiceValidationError as err:
            error = err
        except Exception as err:  # the point: no other exception type
            pytest.fail(f"{action}({data!r}) raised {type(err).__name__}: {err}")
        if error is None:
            pytest.fail(f"{action}({data!r}) succeeded")
        assert error.translation_domain == DOMAIN, (action, data)
        assert error.translation_key in EXCEPTIONS, (action, data, error.translation_key)
        template = EXCEPTIONS[error.translation_key]["message"]
        wanted = {n for _, n, _, _ in string.Formatter().parse(template) if n}
        assert wanted <= set(error.translation_placeholders or {}), (action, data)
        keys[f"{action}: {error.translation_key}"] += 1
    print(f"\nactions fuzzed: {len(cases)} cases", json.dumps(dict(sorted(keys.items())), indent=2))
    assert sum(keys.values()) == len(cases)
    # The stored decisions are untouched by all of it.
    result = await hass.services.async_call(
        DOMAIN,
        "get_suggestions",
        {"config_entry_id": entry_id, "status": "all"},
        blocking=True,
        return_response=True,
    )
    assert {s["status"] for s in result["suggestions"]} == {"new"}
