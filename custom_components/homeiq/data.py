"""The integration's view of an analysis: patterns, suggestion decisions, last run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
import json
import math
from typing import Any

from homeassistant.util import dt as dt_util

from .const import STATUS_ACCEPTED, STATUS_DISMISSED, STATUS_NEW

TOP_PATTERNS_IN_ATTRIBUTES = 5


def habit_signature(pattern: dict[str, Any]) -> str:
    """What must change for a dismissed habit to be suggested again.

    The pattern id already covers type, steps and (for time of day) the weekday class; add the
    weekdays and the delay on a log scale, so 5 vs 6 minutes is the same habit but 5 vs 20 is not.
    A time habit's time is compared apart, by distance (see `moved`): a hash has no tolerance.
    """
    delay = pattern.get("delay_s")
    bucket = None if delay is None else round(math.log2(1.0 + float(delay)))
    key = [pattern.get("id"), pattern.get("weekdays"), bucket, pattern.get("steps")]
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


MOVED_MIN = 90  # a time habit this far from where it was decided is another habit
# Where sunrise and sunset sit on the clock `habit_time` measures sun habits by (any fixed
# places work: only the offsets from them are compared).
_SUN_CLOCK_MIN = {"sunrise": 6 * 60, "sunset": 18 * 60}


def habit_time(pattern: dict[str, Any]) -> str | None:
    """Where a time habit sits in the day: its clock time, or for one that follows the sun,
    its place relative to sunrise or sunset, which does not drift with the seasons (by the
    clock, "15 min after sunset" moves by hours over a year)."""
    sun = pattern.get("sun")
    if isinstance(sun, dict) and sun.get("event") in _SUN_CLOCK_MIN:
        offset = sun.get("offset_min")
        if isinstance(offset, int | float) and not isinstance(offset, bool):
            minute = round(_SUN_CLOCK_MIN[sun["event"]] + offset) % 1440
            return f"{minute // 60:02d}:{minute % 60:02d}"
    time = pattern.get("time")
    return time if isinstance(time, str) else None


def minute_of_day(hhmm: object) -> int | None:
    """Minutes after midnight of "HH:MM[:SS]", or None."""
    parsed = dt_util.parse_time(hhmm) if isinstance(hhmm, str) else None
    return None if parsed is None else parsed.hour * 60 + parsed.minute


def day_gap(before: float, after: float) -> float:
    """Minutes between two times of day, the short way round midnight."""
    gap = abs(before - after) % 1440
    return min(gap, 1440 - gap)


def _apart(before: float, after: float) -> bool:
    return day_gap(before, after) > MOVED_MIN


def moved(then: str | None, now: object) -> bool:
    """Whether a time habit now sits elsewhere in the day than when it was decided."""
    before, after = minute_of_day(then), minute_of_day(now)
    if before is None or after is None:  # not a time habit, or decided before times were kept
        return False
    return _apart(before, after)


def _sun_offset(sun: object) -> tuple[str, float] | None:
    """(event, minutes from it) of a sun habit's `sun` field."""
    if not isinstance(sun, dict) or sun.get("event") not in _SUN_CLOCK_MIN:
        return None
    offset = sun.get("offset_min")
    if not isinstance(offset, int | float) or isinstance(offset, bool):
        return None
    return str(sun["event"]), float(offset)


def sun_time(sun_minutes: object, event: str) -> float | None:
    """The sun event's minutes after midnight in a habit's `sun_minutes`, or None."""
    at = sun_minutes.get(event) if isinstance(sun_minutes, dict) else None
    if not isinstance(at, int | float) or isinstance(at, bool):
        return None
    return float(at)


def _from_sun(clock: object, sun_minutes: object, event: str) -> float | None:
    """A clock habit's minutes from the sun event, by the event's time on its analysis day."""
    minute, at = minute_of_day(clock), sun_time(sun_minutes, event)
    if minute is None or at is None:
        return None
    return (minute - at + 720) % 1440 - 720


def sun_moved(decision: Decision, pattern: dict[str, Any]) -> bool | None:
    """Whether the habit moved, when one of the two was found by the clock and the other by
    the sun; None when that is not the case or cannot be told.

    Near the solstices sunset and sunrise barely move, and the miner finds a sun habit by the
    clock: measured from the sun on the clock habit's day (`sun_minutes`, added at analysis),
    "16:20" in December and "15 min after sunset" are the same habit.
    """
    then, now = _sun_offset(decision.sun), _sun_offset(pattern.get("sun"))
    if then is not None and now is None:
        offset = _from_sun(pattern.get("time"), pattern.get("sun_minutes"), then[0])
        return None if offset is None else _apart(offset, then[1])
    if then is None and now is not None:
        offset = _from_sun(decision.time, decision.sun_minutes, now[0])
        return None if offset is None else _apart(offset, now[1])
    return None


@dataclass(kw_only=True)
class Decision:
    """What the user did with a suggestion, for the habit as it was then."""

    status: str
    signature: str
    at: str
    automation_id: str | None = None
    time: str | None = None  # "HH:MM" of a time habit when decided (see habit_time)
    sun: dict[str, Any] | None = None  # a sun habit's event and offset when decided
    sun_minutes: dict[str, Any] | None = None  # the sun's times on the habit's analysis day

    def as_dict(self) -> dict[str, Any]:
        """JSON for the store."""
        return {
            "status": self.status,
            "signature": self.signature,
            "at": self.at,
            "automation_id": self.automation_id,
            "time": self.time,
            "sun": self.sun,
            "sun_minutes": self.sun_minutes,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Decision:
        """From the store or its backup copy (older files have no time or sun)."""
        return cls(
            status=str(value["status"]),
            signature=str(value["signature"]),
            at=str(value["at"]),
            automation_id=value.get("automation_id"),
            time=value.get("time"),
            sun=value.get("sun"),
            sun_minutes=value.get("sun_minutes"),
        )


@dataclass(kw_only=True)
class HomeIQData:
    """Everything the entities and actions show; restored from the store at setup."""

    patterns: list[dict[str, Any]] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    last_analysis: datetime | None = None
    duration_s: float | None = None
    events: int | None = None
    # Pattern id -> the user's automation that already does its suggestion (covered.py): not
    # stored, worked out again whenever automations or patterns change.
    covered: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_store(cls, stored: dict[str, Any] | None) -> HomeIQData:
        """Rebuild from `.storage` (tolerates a missing or older file)."""
        if not stored:
            return cls()
        last = stored.get("last_analysis")
        return cls(
            patterns=list(stored.get("patterns") or []),
            decisions={
                pid: Decision.from_dict(value)
                for pid, value in (stored.get("decisions") or {}).items()
            },
            summary=dict(stored.get("summary") or {}),
            last_analysis=dt_util.parse_datetime(last) if last else None,
            duration_s=stored.get("duration_s"),
            events=stored.get("events"),
        )

    def to_store(self) -> dict[str, Any]:
        """JSON for `.storage`."""
        return {
            "patterns": self.patterns,
            "decisions": {pid: d.as_dict() for pid, d in self.decisions.items()},
            "summary": self.summary,
            "last_analysis": self.last_analysis.isoformat() if self.last_analysis else None,
            "duration_s": self.duration_s,
            "events": self.events,
        }

    def pattern(self, pattern_id: str) -> dict[str, Any] | None:
        """The pattern with this id, if the last analysis found it."""
        return next((p for p in self.patterns if p.get("id") == pattern_id), None)

    def status(self, pattern: dict[str, Any]) -> str | None:
        """new / accepted / dismissed; None when there is nothing to suggest."""
        if (
            not pattern.get("suggestion")
            or pattern.get("automated")
            or pattern["id"] in self.covered
        ):
            return None
        decision = self.decisions.get(pattern["id"])
        if decision is None or decision.signature != habit_signature(pattern):
            return STATUS_NEW  # never decided, or the habit changed since
        elsewhere = sun_moved(decision, pattern)
        if elsewhere is None:
            elsewhere = moved(decision.time, habit_time(pattern))
        if elsewhere:
            return STATUS_NEW  # it sits elsewhere in the day now
        return decision.status

    def suggestions(self, status: str | None = None) -> list[dict[str, Any]]:
        """Patterns with a suggestion (optionally of one status), most confident first."""
        found = [
            p
            for p in self.patterns
            if (s := self.status(p)) is not None and (status is None or s == status)
        ]
        return sorted(found, key=lambda p: (-float(p.get("confidence") or 0.0), p["id"]))

    def new_suggestions(self, limit: int) -> list[dict[str, Any]]:
        """The suggestions to show, capped at the configured maximum."""
        return self.suggestions(STATUS_NEW)[:limit]

    def category_counts(self) -> Counter[str]:
        """Patterns per category."""
        return Counter(str(p.get("category") or "convenience") for p in self.patterns)

    def decide(self, pattern: dict[str, Any], status: str, automation_id: str | None) -> None:
        """Record acceptance or dismissal of the habit as it is now."""
        assert status in {STATUS_ACCEPTED, STATUS_DISMISSED}
        self.decisions[pattern["id"]] = Decision(
            status=status,
            signature=habit_signature(pattern),
            at=dt_util.utcnow().isoformat(),
            automation_id=automation_id,
            time=habit_time(pattern),
            sun=pattern.get("sun") if _sun_offset(pattern.get("sun")) else None,
            sun_minutes=pattern.get("sun_minutes"),
        )


def brief(pattern: dict[str, Any]) -> dict[str, Any]:
    """A few fields of a pattern: small enough for state attributes."""
    return {
        "id": pattern.get("id"),
        "type": pattern.get("type"),
        "description": pattern.get("description"),
        "confidence": pattern.get("confidence"),
        "category": pattern.get("category"),
    }
