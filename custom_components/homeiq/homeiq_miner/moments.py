"""Habits of one moment: things a hand switches together, without one command.

A three-gang wall switch pressed in one sweep, or two lamps switched a second apart when the
door opens, carry no shared context (each press is its own command), so `commands` cannot fold
them. They come out as a reaction between every two of them, in whichever order the fingers
went ("centre right after right", "left right after centre", "left right after right"), each
seen on some of the sweeps, and as a time habit each if the sweep comes at a time of day:
several suggestions for one habit. Habits that switch within a moment of each other on most
occurrences fold into the one seen most often; the others' changes join its `together`.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from .commands import ONE_MOMENT_S, Groups, Instances, fold_linked, kind_of, switched_rows
from .found import TIME_OF_DAY, TRIGGER_ACTION, Found
from .model import MinerConfig
from .patterns import automated_reason
from .suggest import action_for
from .table import EventTable


def fold_moments(
    found: list[Found],
    table: EventTable,
    instances: Instances,
    groups: Groups,
    cfg: MinerConfig,
) -> list[Found]:
    """Habits the user switches at the same moment on more than half of the occurrences of
    each become one: time habits of one weekday class; reactions to one trigger, or chained
    within a moment ("B right after A", "C right after B"). Existing automations keep their
    own patterns."""
    dropped: set[int] = set()
    for kind in (TIME_OF_DAY, TRIGGER_ACTION):
        items = [f for f in found if f.type == kind and _suggestible(f, table, cfg)]
        times = [np.sort(table.ts[switched_rows(f, instances)]) for f in items]
        also: dict[int, list[int]] = {}
        if kind == TIME_OF_DAY:
            links = _time_habit_links(items, times)
        else:
            links, also = _reaction_links(items, times, table)
        before = {id(f): list(f.together) for f in items}
        dropped |= fold_linked(items, links, table=table, groups=groups, also=also)
        for f in items:
            if f.together != before[id(f)]:
                f.together_at_once = True
    return [f for f in found if id(f) not in dropped]


def _time_habit_links(
    items: list[Found], times: list[npt.NDArray[np.float64]]
) -> list[tuple[int, int]]:
    buckets: dict[Hashable, list[int]] = {}
    for n, f in enumerate(items):
        buckets.setdefault(kind_of(f), []).append(n)
    return [
        (x, y)
        for bucket in buckets.values()
        for a, x in enumerate(bucket)
        for y in bucket[a + 1 :]
        if _coincide(times[x], times[y])
    ]


def _reaction_links(
    items: list[Found], times: list[npt.NDArray[np.float64]], table: EventTable
) -> tuple[list[tuple[int, int]], dict[int, list[int]]]:
    """Links, and the triggers switched at the moment too (those of reactions within it)."""
    at_once = [f.delay_s is not None and f.delay_s <= ONE_MOMENT_S for f in items]
    by_key: dict[int, list[int]] = {}
    for n, f in enumerate(items):
        for k in f.steps:
            by_key.setdefault(k, []).append(n)
    links: list[tuple[int, int]] = []
    for k, bucket in by_key.items():
        for a, x in enumerate(bucket):
            for y in bucket[a + 1 :]:
                # One trigger: its reactions at any delay. A shared change otherwise (a chain,
                # one target): only reactions within a moment, else the trigger of one came
                # long before the other's change.
                one_trigger = items[x].steps[0] == k == items[y].steps[0]
                if (one_trigger or (at_once[x] and at_once[y])) and _coincide(times[x], times[y]):
                    links.append((x, y))
    also = {
        n: [f.steps[0]]
        for n, f in enumerate(items)
        if at_once[n] and action_for(*table.key_label(f.steps[0])) is not None
    }
    return links, also


def _suggestible(f: Found, table: EventTable, cfg: MinerConfig) -> bool:
    """A habit of the user's (not an automation) that switches something HA can command."""
    steps = [table.key_label(k) for k in f.steps]
    return automated_reason(f, steps[0], cfg) is None and action_for(*steps[-1]) is not None


def _coincide(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """More than half of each's times (sorted) have one of the other's within a moment."""
    return _near_share(a, b) > 0.5 and _near_share(b, a) > 0.5


def _near_share(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    if a.size == 0 or b.size == 0:
        return 0.0
    i = np.searchsorted(b, a)
    before = b[np.clip(i - 1, 0, b.size - 1)]
    after = b[np.clip(i, 0, b.size - 1)]
    near = np.minimum(np.abs(a - before), np.abs(after - a)) <= ONE_MOMENT_S
    return float(near.mean())
