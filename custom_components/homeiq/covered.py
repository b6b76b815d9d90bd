"""Suggestions the user's own automations already carry out.

The miner marks a habit `automated` when the recorder shows an automation made its changes.
An automation the user wrote after the history began, or one that has not had its trigger in
the window, leaves no such trace: here each suggestion is compared with HA's automation
entities (their configuration as written), and one that an automation already does is not
suggested. Compared are the trigger (a state trigger on the same entity and state; a time
trigger within TIME_SLACK_MIN, also at a helper's or a timestamp sensor's time; a sun trigger on
the same event; and across the two, a sun trigger whose time with its offset, on the day the
habit was measured, is within TIME_SLACK_MIN of a clock habit, or a time trigger as close to a
sun habit) and every change of the habit itself (the same action on the same
entity, anywhere in the automation's actions, nested in choose/if/sequence and in the scripts
and scenes it runs included; targets resolved as HA resolves them when the action runs, and
device actions that turn an entity on or off; device triggers on an entity turning on or off).
Blueprint automations count too: HA keeps their configuration with the inputs filled in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from homeassistant.components.automation import DATA_COMPONENT
from homeassistant.components.homeassistant.scene import DATA_PLATFORM as SCENES
from homeassistant.components.script import DOMAIN as SCRIPT_DOMAIN
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import (
    ATTR_AREA_ID,
    ATTR_DEVICE_CLASS,
    ATTR_DEVICE_ID,
    ATTR_ENTITY_ID,
    ATTR_FLOOR_ID,
    ATTR_LABEL_ID,
)
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv, entity_registry as er, service
from homeassistant.helpers.entity_component import EntityComponent
from homeassistant.util import dt as dt_util
import voluptuous as vol

try:  # HA 2025.8 and later: target selection has its own helper module
    from homeassistant.helpers import target as _target  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # HA before 2025.8
    _target = None  # type: ignore[assignment,unused-ignore]

from .automations import automation_id
from .data import day_gap, minute_of_day, sun_time

TIME_SLACK_MIN = 60  # a time trigger this close to the habit's time serves the same habit
TARGET_KEYS = (ATTR_ENTITY_ID, ATTR_DEVICE_ID, ATTR_AREA_ID, ATTR_FLOOR_ID, ATTR_LABEL_ID)
_TIME_ENTITIES = ("input_datetime.", "sensor.")  # what a time trigger's `at` may name


def _listed(value: object) -> list[str]:
    if isinstance(value, str):  # HA also takes "light.a, light.b"
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _triggers(config: dict[str, Any]) -> list[dict[str, Any]]:
    raw = config.get("triggers", config.get("trigger"))
    items = raw if isinstance(raw, list) else [raw]
    return [t for t in items if isinstance(t, dict)]


def _kind(trigger: dict[str, Any]) -> object:
    return trigger.get("trigger", trigger.get("platform"))


class _TriggerIndex:
    """The automations' triggers by what a suggestion's trigger can match: one lookup per
    suggestion, not a comparison with every trigger of every automation (HA's event loop
    runs this at each reload of automations)."""

    def __init__(self) -> None:
        self._state: defaultdict[str, list[tuple[list[str] | None, int]]] = defaultdict(list)
        self._time: list[tuple[int, int]] = []
        self._sun: defaultdict[str, list[int]] = defaultdict(list)
        self._sun_offsets: list[tuple[str, float, int]] = []  # (event, minutes, automation)

    def add(self, trigger: dict[str, Any], automation: int) -> None:
        kind = _kind(trigger)
        if kind == "state":
            to = trigger.get("to")
            tos = None if to is None else _listed(to)
            for entity_id in _listed(trigger.get("entity_id")):
                self._state[entity_id].append((tos, automation))
        elif kind == "time":
            for at in _listed(trigger.get("at")):
                if (minute := minute_of_day(at)) is not None:
                    self._time.append((minute, automation))
        elif kind == "sun" and isinstance(event := trigger.get("event"), str):
            self._sun[event].append(automation)
            if (offset := _offset_min(trigger.get("offset", 0))) is not None:
                self._sun_offsets.append((event, offset, automation))

    def matching(self, ours: dict[str, Any], sun_minutes: object = None) -> list[int]:
        """The automations (by number, in order) with a trigger that serves `ours`: a state
        trigger on the entity, to the same state or to any (any change of the entity serves
        a habit on one state of it, not the other way round); a time within TIME_SLACK_MIN;
        a sun trigger on the same event. `sun_minutes` (the sun's times on the day the habit
        was measured) puts sun triggers and sun habits on the clock, to compare with the other
        kind: in December "16:20" and "15 min after sunset" are the same routine."""
        kind, found = _kind(ours), set()
        if kind == "state":
            wanted = ours.get("to")
            found = {
                automation
                for tos, automation in self._state.get(str(ours.get("entity_id")), ())
                if tos is None or (wanted is not None and wanted in tos)
            }
        elif kind == "time" and (want := minute_of_day(ours.get("at"))) is not None:
            found = {a for minute, a in self._time if day_gap(minute, want) <= TIME_SLACK_MIN}
            found |= {
                a
                for event, offset, a in self._sun_offsets
                if (at := _by_the_sun(sun_minutes, event, offset)) is not None
                and day_gap(at, want) <= TIME_SLACK_MIN
            }
        elif kind == "sun":
            event = str(ours.get("event"))
            found = set(self._sun.get(event, ()))
            offset = _offset_min(ours.get("offset", 0))
            if offset is not None and (at := _by_the_sun(sun_minutes, event, offset)) is not None:
                found |= {a for minute, a in self._time if day_gap(minute, at) <= TIME_SLACK_MIN}
        return sorted(found)


def _offset_min(raw: object) -> float | None:
    """A sun trigger's offset in minutes, as HA reads it; None for one HA would refuse."""
    try:
        return float(cv.time_period(raw).total_seconds()) / 60
    except (vol.Invalid, OverflowError):
        return None


def _by_the_sun(sun_minutes: object, event: str, offset: float) -> float | None:
    """Minutes after midnight of `event` plus `offset` by the sun's times in `sun_minutes`."""
    at = sun_time(sun_minutes, event)
    return None if at is None else (at + offset) % 1440


class _Targets:
    """What an automation's targets, devices and `input_datetime` times stand for in this
    home: the entity ids behind an action's targets, device actions and device triggers, and
    the time of day behind a time trigger on a helper."""

    def __init__(self, hass: HomeAssistant) -> None:
        self._hass = hass
        self._entities = er.async_get(hass)
        self.clocks: set[str] = set()  # helpers and sensors a time trigger's time was read from
        # Script entity id -> its actions as written (the script integration keeps its
        # EntityComponent under its domain).
        scripts = hass.data.get(SCRIPT_DOMAIN)
        self.scripts: dict[str, object] = {
            entity.entity_id: entity.raw_config.get("sequence")
            for entity in (scripts.entities if isinstance(scripts, EntityComponent) else [])
            if isinstance(getattr(entity, "raw_config", None), dict)
        }
        # Scene entity id -> what activating it switches: the scenes the user made in HA
        # (their configured states; an integration's own scenes are not known here).
        scenes = hass.data.get(SCENES)
        self.scenes: dict[str, set[tuple[str, str]]] = {
            entity.entity_id: {
                (f"{entity_id.split('.', 1)[0]}.turn_{state.state}", entity_id)
                for entity_id, state in entity.scene_config.states.items()
                if state.state in ("on", "off")
            }
            for entity in (scenes.entities.values() if scenes is not None else [])
            if hasattr(entity, "scene_config")
        }

    def of(self, holder: dict[str, Any]) -> set[str]:
        """The entities a target (entity, device, area, floor and label ids, old-style
        groups) switches, resolved by HA's own helper as when the action runs."""
        wanted = {key: _listed(holder[key]) for key in TARGET_KEYS if key in holder}
        if not wanted:
            return set()
        if _target is not None and hasattr(_target, "async_extract_referenced_entity_ids"):
            selection = getattr(_target, "TargetSelection", None) or _target.TargetSelectorData
            selected = _target.async_extract_referenced_entity_ids(self._hass, selection(wanted))
        else:  # HA before 2025.8
            call = ServiceCall(self._hass, "homeassistant", "turn_on", wanted)
            selected = service.async_extract_referenced_entity_ids(  # type: ignore[attr-defined,unused-ignore]
                self._hass, call
            )
        return set(selected.referenced | selected.indirectly_referenced)

    def time_of(self, trigger: dict[str, Any]) -> dict[str, Any]:
        """A time trigger at an `input_datetime` or a timestamp sensor (with an offset or
        not) as one at the time of day it stands for now. A time-only helper's state is its
        time ("07:10:00"); a timestamp sensor's is when it fires next (a phone's next alarm
        moves with the alarm: its time now is the routine's); a dated helper fires once, and
        reads as no time of day, as does a sensor that is not a timestamp."""
        if _kind(trigger) != "time":
            return trigger
        raw = trigger.get("at")
        times = [self._clock(at) for at in (raw if isinstance(raw, list) else [raw])]
        return {**trigger, "at": [at for at in times if at is not None]}

    def _clock(self, at: object) -> str | None:
        """The time of day ("HH:MM:SS") of one `at` entry: as written, or the entity's."""
        entity_id, offset = at, timedelta(0)
        try:
            if isinstance(at, dict):  # {"entity_id": ..., "offset": "-00:10:00"}
                entity_id, offset = at.get(ATTR_ENTITY_ID), cv.time_period(at.get("offset", 0))
            if not isinstance(entity_id, str) or not entity_id.startswith(_TIME_ENTITIES):
                return entity_id if isinstance(entity_id, str) else None
            return self._entity_clock(entity_id, offset)
        except (vol.Invalid, OverflowError):  # an offset HA would refuse, or out of range
            return None

    def _entity_clock(self, entity_id: str, offset: timedelta) -> str | None:
        self.clocks.add(entity_id)
        if (state := self._hass.states.get(entity_id)) is None:
            return None
        if state.domain == "sensor":
            if state.attributes.get(ATTR_DEVICE_CLASS) != SensorDeviceClass.TIMESTAMP:
                return None
            when = dt_util.parse_datetime(state.state)
            return None if when is None else dt_util.as_local(when + offset).strftime("%H:%M:%S")
        clock = dt_util.parse_time(state.state)  # None for a dated helper's state
        if clock is None:
            return None
        # As HA does for a time-only helper: the offset wraps round midnight.
        return (datetime.combine(date(2000, 1, 1), clock) + offset).strftime("%H:%M:%S")

    def as_state_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        """A device trigger on an entity turning on or off ("turned_on", a door's "opened",
        "no_motion"; the editor's "Device" triggers) as the state trigger it amounts to;
        other triggers as they are."""
        kind, entity = trigger.get("type"), trigger.get("entity_id")
        if _kind(trigger) != "device" or not isinstance(kind, str) or not isinstance(entity, str):
            return trigger
        entity_id = er.async_resolve_entity_id(self._entities, entity)
        domain = entity_id.split(".", 1)[0] if entity_id else None
        if domain == "binary_sensor":
            # Binary sensors name their states by device class: "opened" / "not_opened".
            off = kind == "turned_off" or kind.startswith(("not_", "no_"))
        elif kind in ("turned_on", "turned_off"):
            off = kind == "turned_off"
        else:
            return trigger
        return {"trigger": "state", "entity_id": entity_id, "to": "off" if off else "on"}

    def device_action(self, node: dict[str, Any]) -> tuple[str, str] | None:
        """A device action that switches an entity ({"device_id", "domain", "entity_id" (the
        registry id), "type": "turn_on"}), as the action it runs."""
        kind, domain, entity = node.get("type"), node.get("domain"), node.get("entity_id")
        if kind not in ("turn_on", "turn_off") or not isinstance(domain, str):
            return None
        if not isinstance(entity, str):
            return None
        entity_id = er.async_resolve_entity_id(self._entities, entity)
        return None if entity_id is None else (f"{domain}.{kind}", entity_id)


def _actions(
    node: object, targets: _Targets, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str]]:
    """(action, entity id) of every action call in an automation's actions, however nested,
    those of the scripts it runs included (`seen`: the scripts on the way, which a script
    calling itself does not run again here)."""
    if isinstance(node, list):
        for item in node:
            yield from _actions(item, targets, seen)
        return
    if not isinstance(node, dict):
        return
    action = node.get("action", node.get("service"))
    if isinstance(action, str):
        entities = targets.of(node)
        for holder in (node.get("target"), node.get("data")):
            if isinstance(holder, dict):
                entities |= targets.of(holder)
        for entity_id in entities:
            yield action, entity_id
        # scene.turn_on / script.turn_on / homeassistant.turn_on on scenes and scripts, or
        # `script.evening` itself.
        turned_on = entities if action.endswith(".turn_on") else set()
        for scene_id in turned_on:
            yield from targets.scenes.get(scene_id, ())
        for script_id in sorted(({action} | turned_on) - seen):
            if (sequence := targets.scripts.get(script_id)) is not None:
                yield from _actions(sequence, targets, seen | {script_id})
    elif "device_id" in node and (device := targets.device_action(node)) is not None:
        yield device
    for value in node.values():
        if isinstance(value, list | dict):
            yield from _actions(value, targets, seen)


def _same_action(action: str, theirs: set[tuple[str, str]], entity_id: str) -> bool:
    # homeassistant.turn_on does what light.turn_on does.
    generic = "homeassistant." + action.split(".", 1)[-1]
    return (action, entity_id) in theirs or (generic, entity_id) in theirs


def _habit_actions(pattern: dict[str, Any]) -> list[tuple[str, str]] | None:
    """(action, entity id) of the habit's own changes in its suggestion (not `together`)."""
    steps = pattern.get("steps") or []
    changes = steps[:1] if pattern.get("type") == "time_of_day" else steps[1:]
    wanted = {step.get("entity_id") for step in changes if isinstance(step, dict)}
    found = [
        (str(a["action"]), str(a["target"]["entity_id"]))
        for a in pattern["suggestion"].get("actions") or []
        if isinstance(a, dict)
        and isinstance(a.get("target"), dict)
        and a["target"].get("entity_id") in wanted
    ]
    return found if {e for _, e in found} == wanted else None


class Covering(NamedTuple):
    """What one look at the user's automations found."""

    by_pattern: dict[str, str]  # pattern id -> entity id of the automation that does it
    clocks: frozenset[str]  # helpers and sensors whose state sets a time trigger's time


@callback
def async_covering(hass: HomeAssistant, patterns: list[dict[str, Any]]) -> Covering:
    """The suggestions the user's own automations already do, and what that depends on."""
    component = hass.data.get(DATA_COMPONENT)
    if component is None:
        return Covering({}, frozenset())
    targets = _Targets(hass)
    index = _TriggerIndex()
    automations: list[tuple[str, str | None, object]] = []
    for entity in component.entities:
        if isinstance(config := entity.raw_config, dict):
            for trigger in _triggers(config):
                index.add(targets.time_of(targets.as_state_trigger(trigger)), len(automations))
            automations.append(
                (entity.entity_id, entity.unique_id, config.get("actions", config.get("action")))
            )
    actions: dict[int, set[tuple[str, str]]] = {}  # worked out for the automations it takes
    covering: dict[str, str] = {}
    for pattern in patterns:
        suggestion = pattern.get("suggestion")
        if not isinstance(suggestion, dict) or pattern.get("automated"):
            continue
        ours = (suggestion.get("triggers") or [None])[0]
        changes = _habit_actions(pattern)
        if not isinstance(ours, dict) or changes is None:
            continue
        own = automation_id(str(pattern["id"]))  # accepting it made this one: not "covered"
        for number in index.matching(ours, pattern.get("sun_minutes")):
            entity_id, unique_id, written = automations[number]
            if number not in actions:
                actions[number] = set(_actions(written, targets))
            if unique_id != own and all(_same_action(a, actions[number], e) for a, e in changes):
                covering[str(pattern["id"])] = entity_id
                break
    return Covering(covering, frozenset(targets.clocks))
