"""The text that represents a pattern to the models.

The miner's description, made steady from day to day: a daily analysis slides its window by a
day, and the description's counts and exact figures move with it ("around 07:13" becomes
07:14, "about 47 s" 48 s) while the habit stays the same. Each changed text is a new
embedding, a new classification (which may flip the habit's category) and up to 200 new
reranked pairs. So the models read the description without its counts, with times of day on
the quarter hour and durations on a short ladder of round values: `scripts/bench sidecar
--daily 5` reranks 13 % of the first run's pairs on each daily re-run instead of 44 %
(docs/benchmarks.md). The description shown to the user keeps its exact figures.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
import re
from typing import Any

# The miner's count phrases ("(seen on 21 days)", "(13 times on 8 days)"), wherever they sit:
# a "together" clause may follow them. Only these go: a friendly name may hold brackets too.
_COUNTS = re.compile(r"\s*\((?:seen on \d+ days?|\d+ times? on \d+ days?)\)")
_CLOCK = re.compile(r"\baround (\d{2}):(\d{2})\b")
_DURATION = re.compile(r"\babout (\d+) (s|min)\b")

QUARTER_MIN = 15
# Round durations in seconds; a figure goes to the nearest on a log scale (47 s -> 45 s,
# 2 or 3 min -> 2 min, 4 -> 5 min).
DURATION_LADDER_S = (
    1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200,
    10800, 14400, 21600, 43200,
)  # fmt: skip


def pattern_text(pattern: Mapping[str, Any]) -> str:
    """Its description without counts, times and durations rounded (see the module doc)."""
    text = _COUNTS.sub("", str(pattern.get("description") or pattern.get("id") or ""))
    text = _CLOCK.sub(_quarter_hour, text)
    return _DURATION.sub(_round_duration, text)


def _quarter_hour(match: re.Match[str]) -> str:
    minutes = int(match[1]) * 60 + int(match[2])
    hours, mins = divmod(round(minutes / QUARTER_MIN) * QUARTER_MIN % 1440, 60)
    return f"around {hours:02d}:{mins:02d}"


def _round_duration(match: re.Match[str]) -> str:
    seconds = max(int(match[1]) * (60 if match[2] == "min" else 1), 1)
    nearest = min(DURATION_LADDER_S, key=lambda v: abs(math.log(v / seconds)))
    # Written as the miner writes durations: seconds below 90, else minutes.
    return f"about {nearest} s" if nearest < 90 else f"about {nearest // 60} min"
