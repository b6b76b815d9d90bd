"""The look at the user's automations (covered.py) reads whatever automations.yaml holds.

HA keeps an automation that fails validation as an unavailable entity with its configuration as
written (`raw_config`), so covered.py meets anything a hand-edited file can hold. Hypothesis
draws automation configurations with the keys covered.py reads and values of every JSON type
(half of them names it looks for, so its matching paths run); each is read as async_covering
reads an automation (triggers indexed, actions resolved with HA's registries and target helper)
and every suggestion of the stored analysis is looked up: nothing may raise, and what is read
stays well-formed. (Such files are fed to covered.py directly: HA 2025.4's own validation raises
TypeError on some of them, `triggers: [null]` or `entity_id: 5`, and then loads no automation.)
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.covered import (
    _actions,
    _offset_min,
    _Targets,
    _TriggerIndex,
    _triggers,
)

from .test_services_fuzz import SCALARS, draw_cases, hypothesis

st = hypothesis.strategies
pytestmark = [pytest.mark.usefixtures("recorder_mock"), pytest.mark.timeout(300)]

REAL = st.sampled_from(
    ["binary_sensor.front_door", "light.hallway", "light.kitchen", "07:00:00", "on", "off",
     "sunset", "light.turn_on", "homeassistant.turn_on", "script.turn_on", "scene.turn_on",
     "state", "time", "sun", "device", "turned_on", "turn_on", "not_opened", "input_datetime.x",
     "light", "sensor.alarm", "-00:10:00"]
)  # fmt: skip
VALUE = st.recursive(
    st.one_of(REAL, SCALARS), lambda inner: st.lists(inner, max_size=3), max_leaves=6
)
TRIGGER_KEYS = ("entity_id", "to", "at", "event", "type", "device_id", "domain")
# A time trigger's entity or a sun trigger with an offset: any value, a duration's parts out
# of range too.
OFFSET = VALUE | st.dictionaries(
    st.sampled_from(["days", "hours", "minutes", "seconds"]), st.floats() | st.integers()
)
AT = VALUE | st.lists(
    st.fixed_dictionaries({"entity_id": VALUE}, optional={"offset": OFFSET}), max_size=2
)
# The suggestions' own triggers with some keys drawn anew, and triggers drawn from scratch.
NEAR = st.builds(
    lambda base, drawn, at: {**base, **drawn, **at},
    st.sampled_from(
        [{"trigger": "state", "entity_id": "binary_sensor.front_door", "to": "on"},
         {"trigger": "time", "at": "07:00:00"},
         {"trigger": "sun", "event": "sunrise", "offset": "00:20:00"}]
    ),
    st.dictionaries(st.sampled_from(TRIGGER_KEYS), VALUE, max_size=2),
    st.dictionaries(st.just("at"), AT, max_size=1),
)  # fmt: skip
TRIGGER = NEAR | st.fixed_dictionaries(
    {"trigger": st.one_of(st.sampled_from(["state", "time", "sun", "device"]), VALUE)},
    optional={**dict.fromkeys(TRIGGER_KEYS, VALUE), "at": AT, "offset": OFFSET},
)
CALL_KEYS = ("entity_id", "device_id", "area_id", "floor_id", "label_id", "type", "domain")
CALL = st.fixed_dictionaries(
    {"action": st.one_of(st.sampled_from(["light.turn_on", "script.turn_on", "x.y"]), VALUE)},
    optional=dict.fromkeys(CALL_KEYS, VALUE),
)
ACTION = st.recursive(
    st.one_of(CALL, CALL.map(lambda call: {**call, "target": dict(call)})),
    lambda inner: st.dictionaries(
        st.sampled_from(["target", "data", "choose", "sequence", "then", "else"]),
        inner | st.lists(inner, max_size=3),
        max_size=3,
    ),
    max_leaves=6,
)
AUTOMATION = st.fixed_dictionaries(
    {
        "triggers": TRIGGER | st.lists(TRIGGER, max_size=3) | VALUE,
        "actions": ACTION | st.lists(ACTION, max_size=3) | VALUE,
    }
)
CASES = 300


async def test_any_automation_config_is_read_safely(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    cases: list[dict[str, Any]] = draw_cases(AUTOMATION, CASES)
    hass.states.async_set("input_datetime.x", "07:00:00")
    hass.states.async_set(
        "sensor.alarm", "2026-11-28T07:00:00+00:00", {"device_class": "timestamp"}
    )
    targets, index = _Targets(hass), _TriggerIndex()
    # Offsets past what a datetime holds (HA's own validator overflows on the first).
    huge = [{"entity_id": "sensor.alarm", "offset": {"days": 1e300}},
            {"entity_id": "sensor.alarm", "offset": {"days": 999_999_999}}]  # fmt: skip
    assert targets.time_of({"trigger": "time", "at": huge})["at"] == []
    assert _offset_min({"days": 1e300}) is None  # a sun trigger's offset: the same guard
    read = 0
    for number, case in enumerate(cases):
        for trigger in _triggers(case):
            index.add(targets.time_of(targets.as_state_trigger(trigger)), number)
        for action, entity_id in _actions(case["actions"], targets):
            assert isinstance(action, str), case
            assert isinstance(entity_id, str), case
            read += 1
    assert read >= CASES // 10  # drawn actions did reach the reading of targets
    matched = 0
    sun = {"sunrise": 6 * 60 + 40, "sunset": 16 * 60 + 45}  # sun and clock compared too
    for pattern in loaded_with_results.runtime_data.coordinator.data.patterns:
        for number in index.matching(pattern["suggestion"]["triggers"][0], sun):
            assert 0 <= number < CASES
            matched += 1
    assert matched  # some drawn triggers are the suggestions' (the door, 07:00)
