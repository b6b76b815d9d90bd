"""Sun time: "the porch light goes on a quarter of an hour after sunset".

By the clock such a habit drifts by up to two minutes a day (spring and autumn, mid
latitudes): over a month it smears across an hour, too wide for a time habit, and a
suggestion at a fixed time would be wrong a month later. On a clock where each day's sunset
(or sunrise) is moved to one fixed time, it is a sharp peak again. `sun_clock` gives that
clock for the time-of-day detector; the day's event times come from astral, the library Home
Assistant itself uses for its sun.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunrise, sunset
import numpy as np
import numpy.typing as npt

from .model import Location

SUN_EVENTS = ("sunrise", "sunset")
# Where each event is put on the sun clock: where it usually is, so the detector's day
# boundary (12 h before a habit) stays away from it.
SUN_CLOCK_MIN = {"sunrise": 6 * 60.0, "sunset": 18 * 60.0}
# A sun clock needs the event on nearly every day (not in a polar summer or winter).
_MIN_DAYS_WITH_EVENT = 0.9

_EVENT = {"sunrise": sunrise, "sunset": sunset}


def sun_clock(
    local: npt.NDArray[np.float64], zone: ZoneInfo, location: Location, event: str
) -> npt.NDArray[np.float64] | None:
    """`local` (local wall-clock seconds since the epoch) moved per day so that the day's
    `event` falls at SUN_CLOCK_MIN[event]; None when too many days have no such event."""
    day = np.floor(local / 86400).astype(np.int64)
    days, inverse = np.unique(day, return_inverse=True)
    shift = np.full(days.size, np.nan, dtype=np.float64)
    for n, d in enumerate(days.tolist()):
        minute = _event_minute(date(1970, 1, 1) + timedelta(days=d), zone, location, event)
        if minute is not None:
            shift[n] = (SUN_CLOCK_MIN[event] - minute) * 60.0
    known = ~np.isnan(shift)
    if known.mean() < _MIN_DAYS_WITH_EVENT:
        return None
    shift[~known] = 0.0
    shifted: npt.NDArray[np.float64] = local + shift[inverse]
    return shifted


def _event_minute(day: date, zone: ZoneInfo, location: Location, event: str) -> float | None:
    """Local minutes after midnight of the event on this local day, if the sun has one."""
    observer = Observer(location.latitude, location.longitude)
    # astral answers per UTC date: the local day's event may be on the UTC day before or after.
    for utc_day in (day - timedelta(days=1), day, day + timedelta(days=1)):
        try:
            when = _EVENT[event](observer, utc_day, tzinfo=UTC).astimezone(zone)
        except ValueError:  # the sun stays up (or down) all day
            continue
        if when.date() == day:
            return when.hour * 60 + when.minute + when.second / 60
    return None
