"""Automation drafts in current Home Assistant syntax (triggers / conditions / actions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .model import USE_STATES

_DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_ON_OFF = {
    "light",
    "switch",
    "fan",
    "input_boolean",
    "siren",
    "humidifier",
    "automation",
    "remote",
}
_COVER = {
    "open": "open_cover",
    "opening": "open_cover",
    "closed": "close_cover",
    "closing": "close_cover",
}
_VALVE = {
    "open": "open_valve",
    "opening": "open_valve",
    "closed": "close_valve",
    "closing": "close_valve",
}
_LOCK = {
    "locked": "lock",
    "locking": "lock",
    "unlocked": "unlock",
    "unlocking": "unlock",
    "open": "open",
}
_MEDIA = {
    "on": "turn_on",
    "off": "turn_off",
    "playing": "media_play",
    "paused": "media_pause",
    "idle": "media_stop",
}
_VACUUM = {
    "cleaning": "start",
    "docked": "return_to_base",
    "returning": "return_to_base",
    "paused": "pause",
}
_ALARM = {
    "armed_away": "alarm_arm_away",
    "armed_home": "alarm_arm_home",
    "armed_night": "alarm_arm_night",
    "armed_vacation": "alarm_arm_vacation",
    "disarmed": "alarm_disarm",
}
_HVAC = {"off", "heat", "cool", "heat_cool", "auto", "dry", "fan_only"}


_USE_SERVICE = {"scene": "turn_on", "button": "press", "input_button": "press"}


def action_for(entity_id: str, state: str) -> dict[str, Any] | None:
    """The service call that puts entity_id into state, or None if it cannot be commanded."""
    domain = entity_id.split(".", 1)[0]
    service: str | None = None
    data: dict[str, Any] = {}
    if domain in _ON_OFF and state in ("on", "off"):
        service = f"turn_{state}"
    elif domain == "script" and state == "on":
        service = "turn_on"
    elif is_use(entity_id, state):
        service = _USE_SERVICE.get(domain)  # an event entity only reports: no service
    elif domain == "cover":
        service = _COVER.get(state)
    elif domain == "valve":
        service = _VALVE.get(state)
    elif domain == "lock":
        service = _LOCK.get(state)
    elif domain == "media_player":
        service = _MEDIA.get(state)
    elif domain == "vacuum":
        service = _VACUUM.get(state)
    elif domain == "alarm_control_panel":
        service = _ALARM.get(state)
    elif domain == "climate" and state in _HVAC:
        service, data = "set_hvac_mode", {"hvac_mode": state}
    elif domain in ("input_select", "select"):
        service, data = "select_option", {"option": state}
    elif domain == "water_heater":
        service, data = "set_operation_mode", {"operation_mode": state}
    if service is None:
        return None
    action: dict[str, Any] = {"action": f"{domain}.{service}", "target": {"entity_id": entity_id}}
    if data:
        action["data"] = data
    return action


def _sun_trigger(event: str, offset_min: float) -> dict[str, Any]:
    """HA's sun trigger; the offset as HA writes it ("-00:20:00": 20 minutes before)."""
    minutes = round(offset_min)
    sign = "-" if minutes < 0 else ""
    hours, mins = divmod(abs(minutes), 60)
    return {"trigger": "sun", "event": event, "offset": f"{sign}{hours:02d}:{mins:02d}:00"}


def _delay(seconds: float) -> dict[str, Any]:
    return {"delay": {"seconds": round(seconds)}}


NOT_A_CHANGE = ("unavailable", "unknown")


def time_suggestion(
    *,
    alias: str,
    description: str,
    targets: list[tuple[str, str]],
    hhmm: str,
    weekdays: list[int],
    sun: tuple[str, float] | None = None,
) -> dict[str, Any] | None:
    """At the habit's time, put each (entity, state) of `targets` (the habit's, then those of
    the same command) into its state; None when the habit's own entity cannot be commanded."""
    first = action_for(*targets[0])
    if first is None:
        return None
    actions = [first]
    actions += [a for t in targets[1:] if (a := action_for(*t)) is not None]
    conditions: list[dict[str, Any]] = []
    if len(weekdays) < 7:
        conditions.append({"condition": "time", "weekday": [_DAY_NAMES[d] for d in weekdays]})
    return {
        "alias": alias,
        "description": description,
        "triggers": [
            {"trigger": "time", "at": f"{hhmm}:00"} if sun is None else _sun_trigger(*sun)
        ],
        "conditions": conditions,
        "actions": actions,
        "mode": "single",
    }


# A scene's or button's trigger has no `to` (any new time is a use), so HA would also run it
# when the entity is removed or added again (a reload of scenes, which saving one in the UI
# does): a "state" then goes to or comes from nothing.
USED_NOT_RELOADED = {
    "condition": "template",
    "value_template": "{{ trigger.from_state is not none and trigger.to_state is not none }}",
}


def is_use(entity_id: str, state: str) -> bool:
    """A scene's activation, a button's press or an event entity's event (USE_STATES)."""
    return USE_STATES.get(entity_id.split(".", 1)[0]) == state


def state_trigger(entity_id: str, state: str) -> dict[str, Any]:
    """A trigger on entity_id changing to state; for a scene or button, on any new use
    (with the USED_NOT_RELOADED condition)."""
    trigger: dict[str, Any] = {"trigger": "state", "entity_id": entity_id}
    if is_use(entity_id, state):
        # Its state is the time of the use: any new time, but not going away.
        trigger["not_to"] = list(NOT_A_CHANGE)
    else:
        trigger["to"] = state
    # Not when HA restores states at start-up or a device comes back online: the habit
    # follows a real change, not "unavailable" -> "on".
    trigger["not_from"] = list(NOT_A_CHANGE)
    return trigger


def chain_suggestion(
    *,
    alias: str,
    description: str,
    steps: list[tuple[str, str]],
    delays_s: list[float],
    min_delay_s: float,
    together: Sequence[tuple[str, str]] = (),
) -> dict[str, Any] | None:
    """Trigger on the first step; act out the others in order, waiting where the habit waits.

    `delays_s[i]` is the typical gap before step i + 1. Every step after the trigger must be
    something HA can command, otherwise there is nothing to automate. `together` are switched
    with the last step (the same command), those HA can command.
    """
    trigger_entity, trigger_state = steps[0]
    actions: list[dict[str, Any]] = []
    for (entity_id, state), gap in zip(steps[1:], delays_s, strict=True):
        action = action_for(entity_id, state)
        if action is None:
            return None
        if gap >= min_delay_s:
            actions.append(_delay(gap))
        actions.append(action)
    actions += [a for t in together if (a := action_for(*t)) is not None]
    return {
        "alias": alias,
        "description": description,
        "triggers": [state_trigger(trigger_entity, trigger_state)],
        "conditions": [USED_NOT_RELOADED] if is_use(trigger_entity, trigger_state) else [],
        "actions": actions,
        "mode": "single",
    }
