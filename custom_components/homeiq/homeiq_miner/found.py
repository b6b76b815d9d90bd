"""What a detector hands to the pattern builder: codes and statistics, no text yet."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

TIME_OF_DAY = "time_of_day"
TRIGGER_ACTION = "trigger_action"
SEQUENCE = "sequence"


@dataclass(kw_only=True)
class Found:
    """One detected habit before it becomes a JSON pattern."""

    type: str
    steps: list[int]  # key codes, in order
    occurrences: int
    days_seen: int
    confidence: float
    manual_share: float
    occurrence_ts: npt.NDArray[np.float64]  # unix time of each occurrence's first step
    time_min: float | None = None  # local minutes after midnight (time habits)
    weekdays: list[int] | None = None
    sun_event: str | None = None  # time habits that follow the sun: "sunrise" / "sunset"
    sun_offset_min: float | None = None  # ... this many minutes after it (negative: before)
    ordinal: int = 0  # time habits: place among those of the same steps and weekdays
    spread_min: float | None = None
    delay_s: float | None = None  # median, first to last step
    delays_s: list[float] | None = None  # median per step gap (sequences)
    delay_spread_s: float | None = None
    delay_p90_s: float | None = None  # pairs: nine in ten reactions come within this
    lift: float | None = None
    baseline: float | None = None
    support: float | None = None
    rows: npt.NDArray[np.int64] | None = None  # time habits: the table rows of the occurrences
    together: list[int] = field(default_factory=list)  # keys changed in the same command
    together_at_once: bool = False  # ... or at the same moment, by hand (moments.py)
