"""Time habits made by one command: a scene, a "these lights" button, a group and its members.

Every change of one action call carries the caller's context, so the sofa and reading lamps
that a scene turns on at 19:00 come out as two time habits with the same contexts. Suggested
apart they are two automations for one habit; folded, one automation switches both.
"""

from __future__ import annotations

from .found import TIME_OF_DAY, Found
from .table import EventTable

# Changes of one command land within this many seconds of each other (a group or a bridge
# follows its members within a second or two).
_ONE_MOMENT_S = 5.0


def fold_commands(
    found: list[Found], table: EventTable, groups: frozenset[tuple[int, int]]
) -> list[Found]:
    """Fold time habits whose occurrences mostly share their contexts into one.

    Two habits belong together when each has more than half of its occurrences in contexts the
    other also has (so a lamp switched alone most days stays its own habit). Of a group and
    its members (`groups`: (group, member) entity codes), the group stands for the members
    when it is there with all of them; a group that follows only some is left out, as its
    state follows theirs. The habit seen most often leads; the others become its `together`.
    """
    times = [f for f in found if f.type == TIME_OF_DAY and f.rows is not None]
    contexts = [_contexts(table, f) for f in times]
    parent = list(range(len(times)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for x in range(len(times)):
        for y in range(x + 1, len(times)):
            if times[x].weekdays != times[y].weekdays or not contexts[x] or not contexts[y]:
                continue
            # Same context and the same moment: a script's "on, wait 15 min, off" shares its
            # run's context too, and is two habits.
            shared = sum(
                1
                for c in contexts[x].keys() & contexts[y].keys()
                if abs(contexts[x][c] - contexts[y][c]) <= _ONE_MOMENT_S
            )
            if shared * 2 > times[x].occurrences and shared * 2 > times[y].occurrences:
                parent[root(y)] = root(x)

    clusters: dict[int, list[Found]] = {}
    for n, f in enumerate(times):
        clusters.setdefault(root(n), []).append(f)
    dropped: set[int] = set()
    for members in clusters.values():
        if len(members) < 2:
            continue
        kept = _without_derived(members, table, groups)
        kept.sort(key=lambda f: (-f.occurrences, -f.confidence, table.key_label(f.steps[0])))
        lead = kept[0]
        lead.together = sorted((f.steps[0] for f in kept[1:]), key=table.key_label)
        dropped.update(id(f) for f in members if f is not lead)
    return [f for f in found if id(f) not in dropped]


def _contexts(table: EventTable, f: Found) -> dict[int, float]:
    """Context (hash) -> time of each occurrence that has one."""
    assert f.rows is not None
    ctx = table.ctx[f.rows]
    has = ctx != 0
    return dict(zip(ctx[has].tolist(), table.ts[f.rows][has].tolist(), strict=True))


def _without_derived(
    members: list[Found], table: EventTable, groups: frozenset[tuple[int, int]]
) -> list[Found]:
    """A group switched with exactly its members stands for them (one command on the group);
    a group that follows only some of its members is left out (its state is theirs). Without
    groups, every habit stays."""
    entity = {id(f): int(table.key_entity[f.steps[0]]) for f in members}
    entities = set(entity.values())
    for f in members:
        own = {m for g, m in groups if g == entity[id(f)]}
        if own and own == entities - {entity[id(f)]}:
            return [f]
    return [f for f in members if not any((entity[id(f)], e) in groups for e in entities)]
