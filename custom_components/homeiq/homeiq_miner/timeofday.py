"""Time-of-day detector: an entity reaches a state at a consistent local time.

Circular statistics throughout: minutes live on a 1440-minute circle, so 23:55 and 00:05 are
ten minutes apart and a habit at midnight is one cluster, not two.
"""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from .found import TIME_OF_DAY, Found
from .model import Location, MinerConfig
from .suggest import action_for
from .sun import SUN_CLOCK_MIN, SUN_EVENTS, sun_clock
from .table import EventTable

_DAY_MIN = 1440.0
_BIN_MIN = 10
_BINS = 144
WEEKDAYS = [0, 1, 2, 3, 4]
WEEKEND = [5, 6]
EVERY_DAY = [0, 1, 2, 3, 4, 5, 6]
# A habit follows the sun when its spread on the sun clock is at most this share of its spread
# by the clock (over a short window near a solstice the two are alike: the clock wins).
_SUN_BETTER = 0.75
_SUN_MAX_OFFSET_MIN = 120.0
_SUN_MIN_DRIFT_MIN = 20.0


def _wilson_lower(hits: int, n: int, z: float = 1.0) -> float:
    """One-sided 84% (one standard error) lower bound of a proportion.

    The peak search looks at every time of day of every entity, so a raw share would let
    chance peaks through on a short history.
    """
    if n <= 0:
        return 0.0
    p = min(1.0, hits / n)
    denom = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denom)


def _weekday(day: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    # 1970-01-01 was a Thursday (3); Monday is 0 as in Python and the JSON output.
    return (day + 3) % 7


def _smooth(hist: npt.NDArray[np.int64], half: int) -> npt.NDArray[np.int64]:
    out = hist.copy()
    for shift in range(1, half + 1):
        out += np.roll(hist, shift, axis=1) + np.roll(hist, -shift, axis=1)
    return out


def _peaks(
    smooth: npt.NDArray[np.int64], floor: float, cfg: MinerConfig
) -> list[tuple[int, float]]:
    """(row, minute) of up to max_peaks_per_key maxima per row that could reach the thresholds."""
    suppress = round(2 * cfg.time_window_min / _BIN_MIN)
    found: list[tuple[int, float]] = []
    for k in np.flatnonzero(smooth.max(axis=1) >= floor).tolist():
        row = smooth[k].copy()
        for _ in range(cfg.max_peaks_per_key):
            b = int(row.argmax())
            if row[b] < floor:
                break
            found.append((k, b * _BIN_MIN + _BIN_MIN / 2))
            row[np.arange(b - suppress, b + suppress + 1) % _BINS] = 0
    return found


def detect_time_of_day(
    table: EventTable,
    cfg: MinerConfig,
    *,
    zone: ZoneInfo | None = None,
    location: Location | None = None,
) -> list[Found]:
    """Find (entity, state, time, weekday class) habits; with the home's location, also
    those that follow sunrise or sunset (sun.py) where the sun explains them better."""
    found = _detect(table, cfg, table.local)
    if zone is not None and location is not None:
        found = _with_sun_habits(found, table, cfg, zone, location)
    return _numbered(found)


def _with_sun_habits(
    found: list[Found], table: EventTable, cfg: MinerConfig, zone: ZoneInfo, location: Location
) -> list[Found]:
    """Look for habits on each sun clock (only of what HA can command: a suggestion needs
    it, and on the 698k-event synthetic home the passes cost 1.8 s instead of 2.5 s); one
    replaces the clock habits of the same changes when its spread is clearly smaller (a habit
    by the clock stays one)."""
    commandable = np.array(
        [action_for(*table.key_label(k)) is not None for k in range(table.n_keys)], dtype=bool
    )
    candidates: list[Found] = []
    for event in SUN_EVENTS:
        shifted = sun_clock(table.local, zone, location, event)
        if shifted is None:
            continue
        for f in _detect(table, cfg, shifted, only=commandable):
            assert f.time_min is not None
            assert f.rows is not None
            f.sun_event = event
            f.sun_offset_min = (f.time_min - SUN_CLOCK_MIN[event] + _DAY_MIN / 2) % _DAY_MIN - (
                _DAY_MIN / 2
            )
            # The typical clock time, for the text and the habit's place among its kind.
            f.time_min = _circular_median((table.local[f.rows] % 86400) / 60.0)
            # Near its event and sharp, or it is a chance peak on a clock made for another
            # time of day ("620 min after sunrise" on a home with no sun habit at all); and
            # over days when the event moved, or the sun clock is the clock plus noise.
            near = abs(f.sun_offset_min) <= _SUN_MAX_OFFSET_MIN
            moved = np.ptp(shifted[f.rows] - table.local[f.rows]) / 60 >= _SUN_MIN_DRIFT_MIN
            if near and moved and (f.spread_min or 0.0) <= cfg.max_time_spread_min / 2:
                candidates.append(f)
    kept = list(found)
    for sun in sorted(candidates, key=lambda f: f.spread_min or 0.0):
        rivals = [f for f in kept if _same_habit(f, sun)]
        if all((sun.spread_min or 0.0) <= _SUN_BETTER * (f.spread_min or 0.0) for f in rivals):
            gone = {id(f) for f in rivals}
            kept = [f for f in kept if id(f) not in gone] + [sun]
    return kept


def _same_habit(a: Found, b: Found) -> bool:
    """Same changes on shared weekdays: more than half of the smaller one's rows in common."""
    if a.steps != b.steps or not set(a.weekdays or ()) & set(b.weekdays or ()):
        return False
    assert a.rows is not None
    assert b.rows is not None
    shared = np.intersect1d(a.rows, b.rows).size
    return shared * 2 > min(a.rows.size, b.rows.size)


def _circular_median(minutes: npt.NDArray[np.float64]) -> float:
    angle = minutes / _DAY_MIN * 2 * math.pi
    mean = math.degrees(math.atan2(np.sin(angle).mean(), np.cos(angle).mean())) / 360 * _DAY_MIN
    offsets = (minutes - mean + _DAY_MIN / 2) % _DAY_MIN - _DAY_MIN / 2
    return float((mean + np.median(offsets)) % _DAY_MIN)


def _detect(
    table: EventTable,
    cfg: MinerConfig,
    local: npt.NDArray[np.float64],
    *,
    only: npt.NDArray[np.bool_] | None = None,
) -> list[Found]:
    """One pass over `local` (the wall clock, or a sun clock); `only`: the keys to look at."""
    n = table.ts.size
    if n == 0:
        return []
    s = table.n_keys
    key = table.key.astype(np.int64)
    day = np.floor(local / 86400).astype(np.int64)
    minute = (local - day * 86400) / 60.0
    d0, d1 = int(day.min()), int(day.max())
    span = np.arange(d0, d1 + 1)
    span_wd = _weekday(span) < 5
    n_days = {True: int(span_wd.sum()), False: int((~span_wd).sum())}
    is_wd = _weekday(day) < 5
    count = {
        True: np.bincount(key[is_wd], minlength=s),
        False: np.bincount(key[~is_wd], minlength=s),
    }

    # Distinct (key, day, 10-minute bin) so one busy morning does not look like many days.
    ndays = d1 - d0 + 1
    b = np.minimum((minute // _BIN_MIN).astype(np.int64), _BINS - 1)
    code = np.unique((key * ndays + (day - d0)) * _BINS + b)
    ukey = code // (ndays * _BINS)
    uday = (code // _BINS) % ndays + d0
    ubin = code % _BINS
    uwd = _weekday(uday) < 5
    half = max(1, round(cfg.time_window_min / _BIN_MIN))

    order = np.argsort(key, kind="stable")
    starts = np.searchsorted(key[order], np.arange(s + 1))

    candidates: list[tuple[int, float]] = []
    for cls in (True, False):
        if n_days[cls] == 0:
            continue
        # Histograms only for keys with enough changes to be a habit: a sensor with a new
        # state every minute (a clock, a timestamp) adds many keys but no rows here.
        enough = count[cls] >= cfg.min_days
        keys = np.flatnonzero(enough if only is None else enough & only)
        if keys.size == 0:
            continue
        row = np.full(s, -1, dtype=np.int64)
        row[keys] = np.arange(keys.size)
        m = (uwd if cls else ~uwd) & (row[ukey] >= 0)
        hist = np.bincount(row[ukey[m]] * _BINS + ubin[m], minlength=keys.size * _BINS).reshape(
            keys.size, _BINS
        )
        # A peak must hold enough days to reach min_confidence before any correction.
        floor = max(cfg.min_days, cfg.min_confidence * n_days[cls])
        candidates += [
            (int(keys[r]), center) for r, center in _peaks(_smooth(hist, half), floor, cfg)
        ]

    results: list[Found] = []
    for k, center in candidates:
        idx = order[starts[k] : starts[k + 1]]
        found = _evaluate(
            table,
            k=k,
            idx=idx,
            center=center,
            local=local,
            minute=minute,
            n_days=n_days,
            count=count,
            cfg=cfg,
        )
        if found is not None:
            results.append(found)
    return _dedupe(results, cfg)


def _evaluate(
    table: EventTable,
    *,
    k: int,
    idx: npt.NDArray[np.int64],
    center: float,
    local: npt.NDArray[np.float64],
    minute: npt.NDArray[np.float64],
    n_days: dict[bool, int],
    count: dict[bool, npt.NDArray[np.int64]],
    cfg: MinerConfig,
) -> Found | None:
    h = cfg.time_window_min
    m = minute[idx]
    pick = np.empty(0, dtype=np.int64)
    dist = np.empty(0)
    # The window settles on the densest +-h stretch: that is where the habit shows on most
    # days, so it decides detection and confidence.
    for _ in range(3):  # re-centre on the circular mean until it settles
        dist = (m - center + _DAY_MIN / 2) % _DAY_MIN - _DAY_MIN / 2
        sel = np.flatnonzero(np.abs(dist) <= h)
        if sel.size == 0:
            return None
        # Days start 12 h before the habit so a midnight habit stays on one day.
        hday = np.floor((local[idx[sel]] - (center - _DAY_MIN / 2) * 60) / 86400)
        o = np.lexsort((np.abs(dist[sel]), hday))
        hs = hday[o]
        first = np.r_[True, hs[1:] != hs[:-1]]
        pick = sel[o[first]]
        angle = (center + dist[pick]) / _DAY_MIN * 2 * math.pi
        new = (
            math.degrees(math.atan2(np.sin(angle).mean(), np.cos(angle).mean())) / 360
        ) * _DAY_MIN
        new %= _DAY_MIN
        moved = abs((new - center + _DAY_MIN / 2) % _DAY_MIN - _DAY_MIN / 2)
        center = new
        if moved < 1:
            break
    dist = (m[pick] - center + _DAY_MIN / 2) % _DAY_MIN - _DAY_MIN / 2
    # Report the median, not that mean: the window cuts a skewed habit's tail, and the mean of
    # what is left leans to the other side (Ordonez A's bedtime: mean 01:14, median 01:20,
    # all nights 01:37). Offsets are within +-h of the centre, so their median is circular-safe.
    said_min = (center + float(np.median(dist))) % _DAY_MIN
    angle = dist / _DAY_MIN * 2 * math.pi
    r = float(np.hypot(np.sin(angle).mean(), np.cos(angle).mean()))
    spread = math.sqrt(max(0.0, -2 * math.log(max(r, 1e-12)))) / (2 * math.pi) * _DAY_MIN
    if spread > cfg.max_time_spread_min:
        return None
    hday = np.floor((local[idx[pick]] - (center - _DAY_MIN / 2) * 60) / 86400).astype(np.int64)
    pick_wd = _weekday(hday) < 5

    def score(cls: bool | None) -> tuple[float, float, float, int, float]:
        if cls is None:
            days = n_days[True] + n_days[False]
            seen = pick.size
            events = int(count[True][k] + count[False][k])
        else:
            days = n_days[cls]
            seen = int(pick_wd.sum() if cls else (~pick_wd).sum())
            events = int(count[cls][k])
        if days == 0:
            return 0.0, 0.0, 0.0, 0, 0.0
        support = _wilson_lower(seen, days)
        # Chance that an entity with this many changes a day lands in the window anyway.
        base = 1 - math.exp(-(events / days) * 2 * h / _DAY_MIN)
        conf = (support - base) / (1 - base) if base < 1 else 0.0
        return max(0.0, conf), support, base, seen, seen / days

    c_all, c_wd, c_we = score(None), score(True), score(False)
    thr = cfg.min_confidence
    share_wd, share_we = c_wd[4], c_we[4]
    # A class-only habit shows on the other class's days at most half as often.
    if c_wd[0] >= thr and share_we < share_wd / 2:
        chosen, weekdays, in_cls = c_wd, WEEKDAYS, pick_wd
    elif c_we[0] >= thr and share_wd < share_we / 2:
        chosen, weekdays, in_cls = c_we, WEEKEND, ~pick_wd
    elif c_all[0] >= thr:
        chosen, weekdays, in_cls = c_all, EVERY_DAY, np.ones(pick.size, dtype=np.bool_)
    else:
        return None
    conf, support, base, seen, _share = chosen
    if seen < max(cfg.min_days, cfg.min_occurrences):
        return None
    used = idx[pick[in_cls]]
    return Found(
        type=TIME_OF_DAY,
        steps=[k],
        occurrences=int(used.size),
        days_seen=int(used.size),
        confidence=round(conf, 3),
        manual_share=float(table.manual[used].mean()),
        occurrence_ts=table.ts[used],
        time_min=said_min,
        weekdays=weekdays,
        spread_min=spread,
        baseline=base,
        support=support,
        rows=used.astype(np.int64),
    )


def _dedupe(found: list[Found], cfg: MinerConfig) -> list[Found]:
    """Weekday and weekend peaks of one every-day habit collapse into one pattern."""
    found.sort(key=lambda f: (len(f.weekdays or []), f.confidence), reverse=True)
    kept: list[Found] = []
    for f in found:
        clash = False
        for g in kept:
            if g.steps != f.steps or g.time_min is None or f.time_min is None:
                continue
            gap = abs((g.time_min - f.time_min + _DAY_MIN / 2) % _DAY_MIN - _DAY_MIN / 2)
            overlap = set(g.weekdays or []) & set(f.weekdays or [])
            if gap <= 2 * cfg.time_window_min and overlap:
                clash = True
                break
        if not clash:
            kept.append(f)
    return kept


# Ordinals count from 04:00, the quietest hour of most homes, so that habits rarely cross it.
_ORDINAL_START_MIN = 240.0


def _numbered(found: list[Found]) -> list[Found]:
    """Number the habits of one entity state and weekday class by time of day.

    The ordinal (not the time) makes the pattern id: a habit whose mean time drifts keeps its
    id; only a new or lost habit of the same entity state and weekdays moves the later ones.
    """
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[Found]] = {}
    for f in found:
        groups.setdefault((tuple(f.steps), tuple(f.weekdays or [])), []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: ((f.time_min or 0.0) - _ORDINAL_START_MIN) % _DAY_MIN)
        for ordinal, f in enumerate(group):
            f.ordinal = ordinal
    return found
