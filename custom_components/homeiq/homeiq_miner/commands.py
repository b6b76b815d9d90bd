"""Habits made by one command: a scene, a "these lights" button, a group and its members.

Every change of one action call carries the caller's context, so the sofa and reading lamps
that a scene turns on at 19:00 (or when the front door opens) come out as two habits with the
same contexts. Suggested apart they are two automations for one habit; folded, one automation
switches both.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from .found import TIME_OF_DAY, TRIGGER_ACTION, Found
from .model import USE_STATES
from .suggest import action_for
from .table import EventTable

# Changes of one command land within this many seconds of each other (a group or a bridge
# follows its members within a second or two).
ONE_MOMENT_S = 5.0

Groups = frozenset[tuple[int, int]]  # (group, member) entity codes; member -1: has no rows


Instances = dict[tuple[int, int], tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]


def fold_commands(
    found: list[Found], table: EventTable, instances: Instances, groups: Groups
) -> list[Found]:
    """Time habits of one weekday class, and reactions to one trigger, switched in one
    command become one. `instances` are the pairs' (trigger rows, action rows)."""
    dropped: set[int] = set()
    for kind in (TIME_OF_DAY, TRIGGER_ACTION):
        items = [f for f in found if f.type == kind]
        rows = [switched_rows(f, instances) for f in items]
        dropped |= _fold(items, [_contexts(table, r) for r in rows], table=table, groups=groups)
    return [f for f in found if id(f) not in dropped]


def switched_rows(f: Found, instances: Instances) -> npt.NDArray[np.int64]:
    """The table rows of the changes the habit makes: a time habit's own, a reaction's action."""
    if f.type == TIME_OF_DAY:
        assert f.rows is not None
        return f.rows
    return instances[(f.steps[0], f.steps[1])][1]


def kind_of(f: Found) -> Hashable:
    """Only habits of one kind can be one command: same weekday class, or same trigger."""
    return tuple(f.weekdays or ()) if f.type == TIME_OF_DAY else f.steps[0]


def _fold(
    items: list[Found], contexts: list[dict[int, float]], *, table: EventTable, groups: Groups
) -> set[int]:
    """Cluster habits of one kind whose changes (the last step's) share contexts; set each
    cluster's lead's `together`; return the ids of the others (dropped).

    Two habits belong together when each has more than half of its occurrences in contexts the
    other also has, at the same moment (a script's "on, wait 15 min, off" shares its run's
    context too, and is two habits; a lamp switched alone on most days stays its own habit).
    """
    # Only habits of one kind can fold, and only those with contexts: compare within buckets
    # (a big home has thousands of reactions, a few per trigger).
    buckets: dict[Hashable, list[int]] = {}
    for n, f in enumerate(items):
        if contexts[n]:
            buckets.setdefault(kind_of(f), []).append(n)
    links: list[tuple[int, int]] = []
    for bucket in buckets.values():
        for a, x in enumerate(bucket):
            for y in bucket[a + 1 :]:
                shared = sum(
                    1
                    for c in contexts[x].keys() & contexts[y].keys()
                    if abs(contexts[x][c] - contexts[y][c]) <= ONE_MOMENT_S
                )
                if shared * 2 > items[x].occurrences and shared * 2 > items[y].occurrences:
                    links.append((x, y))
    return fold_linked(items, links, table=table, groups=groups)


def fold_linked(
    items: list[Found],
    links: list[tuple[int, int]],
    *,
    table: EventTable,
    groups: Groups,
    also: dict[int, list[int]] | None = None,
) -> set[int]:
    """Fold the clusters that `links` (pairs of indexes into `items`) make: the lead's
    `together` gets the others' last steps (and `also[n]`: more keys item n switched at that
    moment); return the ids of the others (dropped).

    Of a group and its members, the group switched with exactly its members stands for them
    (one action on the group); a group that follows only some of them is left out, as its
    state follows theirs. A scene among them stands for the rest: it set them (in one command,
    or within a moment, which no hand does). The habit seen most often among those HA can
    command leads.
    """
    parent = list(range(len(items)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for x, y in links:
        parent[root(y)] = root(x)
    clusters: dict[int, list[int]] = {}
    for n in range(len(items)):
        clusters.setdefault(root(n), []).append(n)
    dropped: set[int] = set()
    for indexes in clusters.values():
        if len(indexes) < 2:
            continue
        members = [items[n] for n in indexes]
        entity = {id(f): int(table.key_entity[f.steps[-1]]) for f in members}
        kept = _without_derived(members, entity, groups)
        kept = [f for f in kept if _is_scene_use(table, f.steps[-1])] or kept
        # Something HA can command leads: a template sensor copying a light's context must
        # not take the light's suggestion with it.
        kept.sort(
            key=lambda f: (
                action_for(*table.key_label(f.steps[-1])) is None,
                -f.occurrences,
                -f.confidence,
                table.key_label(f.steps[-1]),
            )
        )
        lead = kept[0]
        kept_ids = {id(f) for f in kept}
        keys = {k for f in kept for k in (f.steps[-1], *f.together)}
        keys.update(k for n in indexes if id(items[n]) in kept_ids for k in (also or {}).get(n, ()))
        # A group whose member is switched here follows it (an `also` key may be one).
        switched = {int(table.key_entity[k]) for k in keys | set(lead.steps)}
        keys = {
            k for k in keys if not any((int(table.key_entity[k]), e) in groups for e in switched)
        }
        lead.together = sorted(keys - set(lead.steps), key=table.key_label)
        dropped.update(id(f) for f in members if f is not lead)
    return dropped


def _is_scene_use(table: EventTable, key: int) -> bool:
    entity_id, state = table.key_label(key)
    return entity_id.startswith("scene.") and state == USE_STATES["scene"]


def _contexts(table: EventTable, rows: npt.NDArray[np.int64]) -> dict[int, float]:
    """Context (hash) -> time of each of these rows that has one."""
    ctx = table.ctx[rows]
    has = ctx != 0
    return dict(zip(ctx[has].tolist(), table.ts[rows][has].tolist(), strict=True))


def _without_derived(members: list[Found], entity: dict[int, int], groups: Groups) -> list[Found]:
    """A group switched with exactly its members stands for them; a group that follows only
    some of its members is left out. Without groups, every habit stays."""
    entities = set(entity.values())
    for f in members:
        own = {m for g, m in groups if g == entity[id(f)]}
        if own and own == entities - {entity[id(f)]}:
            return [f]
    return [f for f in members if not any((entity[id(f)], e) in groups for e in entities)]
