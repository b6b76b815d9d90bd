"""Found habits -> JSON-ready pattern dicts: stable id, English sentence, stats, suggestion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from .found import SEQUENCE, TIME_OF_DAY, TRIGGER_ACTION, Found
from .model import USE_STATES, MinerConfig
from .suggest import action_for, chain_suggestion, time_suggestion
from .table import EventTable

_EXAMPLES = 5


def _hhmm(minutes: float) -> str:
    total = round(minutes) % 1440
    return f"{total // 60:02d}:{total % 60:02d}"


def _became(entity_id: str, state: str) -> str:
    if state in ("on", "off"):
        return f"{entity_id} turns {state}"
    if state in USE_STATES.values():
        return f"{entity_id} is {state}"
    return f"{entity_id} becomes {state}"


def _days_text(weekdays: list[int]) -> str:
    if len(weekdays) == 7:
        return "every day"
    if weekdays == [0, 1, 2, 3, 4]:
        return "on weekdays"
    if weekdays == [5, 6]:
        return "at weekends"
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    return "on " + ", ".join(names[d] for d in weekdays)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} s"
    return f"{round(seconds / 60)} min"


def automated_reason(found: Found, first_step: tuple[str, str], cfg: MinerConfig) -> str | None:
    """Why the user already has this as an automation, or None.

    "contexts": most final changes were caused by an automation or script (recorder contexts).
    "reaction_time": without contexts (a CSV export, a device's own binding), a reaction to a
    sensor that always comes within a second or two is a machine's: a person cannot see a
    motion sensor switch and needs longer to reach a switch after a door opens.
    """
    if found.manual_share < cfg.min_manual_share:
        return "contexts"
    if (
        found.type == TRIGGER_ACTION
        and found.delay_p90_s is not None
        and found.delay_p90_s <= cfg.machine_reaction_max_s
        and action_for(*first_step) is None
    ):
        return "reaction_time"
    return None


def _and(parts: Iterable[str]) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _after(seconds: float) -> str:
    # "about 0 s after" reads as a glitch: under a second is "right after".
    return "right after" if seconds < 1 else f"about {_duration(seconds)} after"


def _sun_text(event: str, offset_min: int) -> str:
    if offset_min == 0:
        return f"at {event}"
    side = "after" if offset_min > 0 else "before"
    return f"about {abs(offset_min)} min {side} {event}"


def _first_to_last(seconds: float) -> str:
    # The delay is the median, not a bound: say "about", never "within".
    if seconds < 1:
        return "all within a second"
    return f"about {_duration(seconds)} from first to last"


def pattern_id(kind: str, steps: list[tuple[str, str]], extra: str = "") -> str:
    text = kind + "|" + "|".join(f"{e}={s}" for e, s in steps) + "|" + extra
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def _iso(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).isoformat(timespec="seconds")


def build_pattern(
    found: Found,
    table: EventTable,
    zone: ZoneInfo,
    cfg: MinerConfig,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One pattern as JSON; `names` (entity id -> friendly name) make the texts readable."""
    steps = [table.key_label(k) for k in found.steps]
    # Texts (description, alias) use friendly names; steps and the automation keep entity ids.
    said = [((names or {}).get(e, e), s) for e, s in steps]
    reason = automated_reason(found, steps[0], cfg)
    automated = reason is not None
    occ = found.occurrence_ts
    pattern: dict[str, Any] = {
        "type": found.type,
        "steps": [{"entity_id": e, "state": s} for e, s in steps],
        "time": None,
        "weekdays": None,
        "delay_s": None,
        "occurrences": found.occurrences,
        "days_seen": found.days_seen,
        "confidence": round(found.confidence, 3),
        "automated": automated,
        "automated_reason": reason,
        "manual_share": round(found.manual_share, 3),
        "first_seen": _iso(float(occ.min()), zone),
        "last_seen": _iso(float(occ.max()), zone),
        "examples": [_iso(float(t), zone) for t in sorted(occ.tolist())[-_EXAMPLES:]],
        "lift": None if found.lift is None else round(found.lift, 2),
        "baseline": None if found.baseline is None else round(found.baseline, 4),
        "spread": None,
        "sun": None,
        "together": [],
        "together_at_once": False,
    }
    together = [table.key_label(k) for k in found.together]
    pattern["together"] = [{"entity_id": e, "state": s} for e, s in together]
    pattern["together_at_once"] = bool(together) and found.together_at_once
    also = [((names or {}).get(e, e), s) for e, s in together]
    how = "at the same moment" if found.together_at_once else "in the same command"
    same_command = f"; {how} {_and(_became(*x) for x in also)}" if also else ""
    if found.type == TIME_OF_DAY:
        assert found.time_min is not None
        assert found.weekdays is not None
        hhmm = _hhmm(found.time_min)
        entity_id, state = steps[0]
        # The time itself stays out of the id: a habit drifting by minutes keeps it (see
        # timeofday._numbered); the weekday class and the habit's place among its kind go in.
        pattern["id"] = pattern_id(
            found.type, steps, f"{_days_text(found.weekdays)}|{found.ordinal}"
        )
        pattern["time"] = hhmm
        pattern["weekdays"] = found.weekdays
        pattern["spread"] = {"time_std_min": round(found.spread_min or 0.0, 1)}
        sun = None
        when = f"around {hhmm}"
        if found.sun_event is not None and found.sun_offset_min is not None:
            sun = (found.sun_event, round(found.sun_offset_min))
            pattern["sun"] = {"event": sun[0], "offset_min": sun[1]}
            when = _sun_text(*sun)
        pattern["description"] = (
            f"{_became(*said[0])} {when} {_days_text(found.weekdays)}"
            f" (seen on {found.days_seen} days){same_command}."
        )
        alias = f"{said[0][0]} {state} {when.removeprefix('around ')}" + (
            f" (+{len(also)})" if also else ""
        )
        pattern["suggestion"] = time_suggestion(
            alias=alias,
            description=pattern["description"],
            targets=[(entity_id, state), *together],
            hhmm=hhmm,
            weekdays=found.weekdays,
            sun=sun,
        )
    else:
        assert found.delay_s is not None
        pattern["id"] = pattern_id(found.type, steps)
        pattern["delay_s"] = round(found.delay_s, 1)
        gaps = found.delays_s if found.delays_s is not None else [found.delay_s]
        if found.type == TRIGGER_ACTION:
            pattern["spread"] = {"delay_iqr_s": round(found.delay_spread_s or 0.0, 1)}
            pattern["description"] = (
                f"{_became(*said[1])} {_after(found.delay_s)} {_became(*said[0])}"
                f" ({found.occurrences} times on {found.days_seen} days){same_command}."
            )
            alias = f"{said[0][0]} {said[0][1]} -> {said[1][0]} {said[1][1]}" + (
                f" (+{len(also)})" if also else ""
            )
        else:
            assert found.type == SEQUENCE
            pattern["description"] = (
                f"{_became(*said[0])}, then {_became(*said[1])}, then {_became(*said[2])},"
                f" {_first_to_last(found.delay_s)} ({found.occurrences} times on"
                f" {found.days_seen} days)."
            )
            alias = " -> ".join(f"{e} {s}" for e, s in said)
        pattern["suggestion"] = chain_suggestion(
            alias=alias,
            description=pattern["description"],
            steps=steps,
            delays_s=gaps,
            min_delay_s=cfg.suggest_delay_min_s,
            together=together,
        )
    if automated:
        # The user already automates this: nothing to suggest.
        pattern["suggestion"] = None
    return pattern
