"""Public data types: the event row, the detector settings and the result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Event(NamedTuple):
    """One state change as the recorder stores it."""

    ts: float
    entity_id: str
    state: str
    context_id: str | None = None
    context_parent_id: str | None = None
    context_user_id: str | None = None


# Domains whose state is the time they were last used (a scene's activation, a button's
# press, an event entity's event: a doorbell's ring, a remote's button): every new time is one
# use, mined as this state (each time its own state would never repeat, so a scene at 19:00
# every evening would never be a habit).
USE_STATES: dict[str, str] = {
    "scene": "activated",
    "button": "pressed",
    "input_button": "pressed",
    "event": "triggered",
}


class Location(NamedTuple):
    """Where the home is (degrees): for habits that follow sunrise or sunset."""

    latitude: float
    longitude: float


@dataclass(frozen=True, kw_only=True)
class Restarts:
    """When Home Assistant started, from the recorder: each run's start (the recorder starts
    early in boot) and each `homeassistant_started` event (unix times, any order)."""

    recorder_starts: Sequence[float] = ()
    started: Sequence[float] = ()


@dataclass(frozen=True, kw_only=True)
class MinerConfig:
    """Detector defaults; docs/miner.md explains each one."""

    min_confidence: float = 0.5
    max_patterns: int = 200
    min_occurrences: int = 5
    min_days: int = 3
    # trigger -> action: B must follow A within this many seconds.
    pair_window_s: float = 300.0
    # P(B after A) / P(B after a random moment) must reach this.
    min_lift: float = 3.0
    # A -> B is B's own cycle (a hold timer, a device's run time) when, on most occurrences,
    # B's previous change came at most this many seconds before A: A only met B's start.
    own_cycle_lead_s: float = 30.0
    # sequence A -> B -> C: whole chain within this many seconds.
    sequence_window_s: float = 900.0
    # time of day: half-width of the window around the habit's time.
    time_window_min: float = 45.0
    # time of day: circular standard deviation of the daily times must stay under this.
    max_time_spread_min: float = 30.0
    max_peaks_per_key: int = 3
    # a pattern whose manual share is below this is an automation the user already has.
    min_manual_share: float = 0.5
    # B follows a sensor A (nothing a person commands) within this many seconds on nine of
    # ten occurrences: a machine's reaction, an automation the user has, even without contexts.
    machine_reaction_max_s: float = 2.0
    # delays shorter than this are human reaction time, not part of the habit.
    suggest_delay_min_s: float = 60.0
    # A start-up writes every entity's state at once (templates even flip off -> on): rows
    # from a recorder run's start until this long after `homeassistant_started` are no
    # changes of their own, only the state the next change starts from.
    startup_grace_s: float = 30.0
    # keep only the last N days (relative to the newest event); None keeps all.
    lookback_days: float | None = None
    ignore_states: frozenset[str] = frozenset({"unavailable", "unknown", "", "none"})


@dataclass(kw_only=True)
class MiningResult:
    """JSON-ready patterns plus run statistics."""

    patterns: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
