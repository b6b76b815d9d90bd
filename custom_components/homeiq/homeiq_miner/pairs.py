"""Trigger -> action detector: B reaches a state within a window after A does.

Directed and scored against B's baseline: confidence is the share of A's occurrences that B
follows, lift divides it by the chance that B follows a random moment. Pairs are enumerated by
lag over the time-sorted events, and each lag step keeps only events that still have a partner
inside the window, so the work is the number of event pairs within the window (O(n k)), never
all pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .found import TRIGGER_ACTION, Found
from .model import MinerConfig
from .table import EventTable

_DENSE_LIMIT = 1 << 22  # up to 4M (trigger, action) cells are counted in one dense array

IntArray = npt.NDArray[np.int64]


@dataclass(kw_only=True)
class PairIndex:
    """Instances of accepted pairs, for the sequence detector."""

    instances: dict[tuple[int, int], tuple[IntArray, IntArray]]
    n_key: IntArray


def same_key_neighbours(key: IntArray) -> tuple[IntArray, IntArray]:
    """Index of the previous and next event with the same key (-1 / n when none)."""
    n = key.size
    order = np.lexsort((np.arange(n), key))
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    same = key[order[1:]] == key[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return prev, nxt


def lag_pairs(ts: npt.NDArray[np.float64], window: float) -> Iterator[tuple[IntArray, IntArray]]:
    """All (earlier j, later i) index pairs with 0 <= ts[i] - ts[j] <= window, one lag at a time."""
    n = ts.size
    j = np.arange(max(n - 1, 0), dtype=np.int64)
    lag = 1
    while j.size:
        i = j + lag
        ok = ts[i] - ts[j] <= window
        j, i = j[ok], i[ok]
        if not j.size:
            return
        yield j, i
        lag += 1
        j = j[j + lag < n]


def follower_pairs(
    ts: npt.NDArray[np.float64],
    *,
    key: IntArray,
    ent: IntArray,
    prev: IntArray,
    can_act: npt.NDArray[np.bool_] | None,
    window: float,
) -> Iterator[tuple[IntArray, IntArray]]:
    """(j, i) within the window where i is the first event of its key after j, on another entity.

    Counting only the first B after each A means a chatty B counts once per A.
    """
    for j, i in lag_pairs(ts, window):
        if can_act is not None:
            act = can_act[i]
            j, i = j[act], i[act]  # noqa: PLW2901
        keep = (prev[i] < j) & (ent[i] != ent[j])
        yield j[keep], i[keep]


def detect_pairs(
    table: EventTable, cfg: MinerConfig, groups: frozenset[tuple[int, int]] = frozenset()
) -> tuple[list[Found], PairIndex]:
    """Trigger -> action habits; `groups` holds (group, member) entity codes: a group's state
    follows its members', so a pair of a group and a member is never a reaction."""
    s = table.n_keys
    key_all = table.key.astype(np.int64)
    n_key_all = np.bincount(key_all, minlength=s)
    index = PairIndex(instances={}, n_key=n_key_all)
    # Keys seen fewer than min_occurrences times cannot make a pair: leave them out.
    use = np.flatnonzero(n_key_all[key_all] >= cfg.min_occurrences)
    if use.size < 2:
        return [], index
    ts = table.ts[use]
    key = key_all[use]
    ent = table.key_entity[key].astype(np.int64)
    w = cfg.pair_window_s
    prev, _ = same_key_neighbours(key)

    # Share of moments t with a B event in (t, t + w]: B's baseline.
    gap = np.where(prev >= 0, ts - ts[np.maximum(prev, 0)], w)
    span = float(ts[-1] - ts[0]) + w
    coverage = np.bincount(key, weights=np.minimum(gap, w), minlength=s) / span

    # lift <= 1 / coverage, so a B that covers more than 1 / min_lift of the time can never
    # pass; dropping it as an action early skips most pairs of chatty sensors.
    can_act = coverage[key] <= 1.0 / cfg.min_lift
    codes, cnt = _count_pairs(ts, key=key, ent=ent, prev=prev, can_act=can_act, s=s, w=w)
    a, b = codes // s, codes % s
    conf = cnt / n_key_all[a]
    lift = conf / np.maximum(coverage[b], 1e-12)
    ok = (cnt >= cfg.min_occurrences) & (conf >= cfg.min_confidence) & (lift >= cfg.min_lift)
    cand = np.sort(codes[ok])
    if cand.size == 0:
        return [], index
    cand_conf = dict(zip(codes[ok].tolist(), conf[ok].tolist(), strict=True))
    cand_lift = dict(zip(codes[ok].tolist(), lift[ok].tolist(), strict=True))

    # Second pass over the events of candidate keys only: every B event is kept, so "first B
    # after A" is unchanged, and the window holds far fewer events.
    in_cand = np.zeros(s, dtype=np.bool_)
    in_cand[cand // s] = True
    in_cand[cand % s] = True
    sub = np.flatnonzero(in_cand[key])
    sub_prev, _ = same_key_neighbours(key[sub])
    js: list[IntArray] = []
    is_: list[IntArray] = []
    ps: list[IntArray] = []
    for j, i in follower_pairs(
        ts[sub], key=key[sub], ent=ent[sub], prev=sub_prev, can_act=None, window=w
    ):
        c = key[sub[j]] * s + key[sub[i]]
        pos = np.minimum(np.searchsorted(cand, c), cand.size - 1)
        hit = cand[pos] == c
        js.append(sub[j[hit]])
        is_.append(sub[i[hit]])
        ps.append(pos[hit])
    jj, ii, pp = np.concatenate(js), np.concatenate(is_), np.concatenate(ps)
    o = np.argsort(pp, kind="stable")
    jj, ii, pp = jj[o], ii[o], pp[o]
    bounds = np.searchsorted(pp, np.arange(cand.size + 1))

    day = np.floor(table.local[use] / 86400).astype(np.int64)
    ent_prev, _ = same_key_neighbours(table.key_entity[key_all].astype(np.int64))
    found: list[Found] = []
    for p in range(cand.size):
        lo, hi = bounds[p], bounds[p + 1]
        if hi == lo:
            continue
        j, i = jj[lo:hi], ii[lo:hi]
        days_seen = int(np.unique(day[j]).size)
        if days_seen < cfg.min_days:
            continue
        if _own_cycle_share(table.ts, ent_prev, use[j], use[i], cfg.own_cycle_lead_s) > 0.5:
            continue
        code = int(cand[p])
        ka, kb = code // s, code % s
        ea, eb = int(table.key_entity[ka]), int(table.key_entity[kb])
        if (ea, eb) in groups or (eb, ea) in groups:
            continue
        if _one_command_share(table.ctx, use[j], use[i]) > 0.5:
            continue
        delays = ts[i] - ts[j]
        q1, q3, p90 = np.percentile(delays, [25, 75, 90])
        found.append(
            Found(
                type=TRIGGER_ACTION,
                steps=[ka, kb],
                occurrences=int(hi - lo),
                days_seen=days_seen,
                confidence=round(float(cand_conf[code]), 3),
                manual_share=float(table.manual[use][i].mean()),
                occurrence_ts=ts[j],
                delay_s=float(np.median(delays)),
                delay_spread_s=float(q3 - q1),
                delay_p90_s=float(p90),
                lift=float(cand_lift[code]),
                baseline=float(coverage[kb]),
            )
        )
        # Sequence detection works on positions in the full table.
        index.instances[(ka, kb)] = (use[j], use[i])
    found = _explain_away(_drop_weaker_direction(found), table, index.instances)
    kept = {(f.steps[0], f.steps[1]) for f in found}
    index.instances = {k: v for k, v in index.instances.items() if k in kept}
    return found, index


def _own_cycle_share(
    ts: npt.NDArray[np.float64], ent_prev: IntArray, a: IntArray, b: IntArray, lead: float
) -> float:
    """Share of occurrences where B's own previous change came just before A (within `lead`)
    or after A.

    An occupancy sensor turns on, the light follows within a second, and the sensor's hold
    timer turns it off 90 s after its own start: "off 90 s after the light" is true every
    time, but it is the sensor's cycle, not a reaction to the light. When the sensor starts
    just after A instead (a light switched off, then the hall sensor sees the person leave),
    its end is that cycle's too; counting only one side let a mix of both through.
    """
    before = ent_prev[b]
    t_before = ts[np.maximum(before, 0)]
    # t_before < ts[b] always: a previous change after A lies between A and B.
    own = (before >= 0) & (ts[a] - t_before <= lead)
    return float(own.mean())


def _one_command_share(ctx: npt.NDArray[np.int64], a: IntArray, b: IntArray) -> float:
    """Share of occurrences where A and B changed in one command: the same context.

    Home Assistant gives every change of one action call the caller's context (a scene, a
    "turn on these lights" button), and a group, template or wrapper entity that follows
    another takes that entity's context. "B turns on right after A" is then one action or one
    entity seen twice, not a reaction to suggest.
    """
    same = (ctx[a] == ctx[b]) & (ctx[a] != 0)
    return float(same.mean())


def _count_pairs(
    ts: npt.NDArray[np.float64],
    *,
    key: IntArray,
    ent: IntArray,
    prev: IntArray,
    can_act: npt.NDArray[np.bool_],
    s: int,
    w: float,
) -> tuple[IntArray, IntArray]:
    """(pair code, count) for every (A, first B after A within w) seen."""
    if s * s <= _DENSE_LIMIT:
        dense = np.zeros(s * s, dtype=np.int64)
        for j, i in follower_pairs(ts, key=key, ent=ent, prev=prev, can_act=can_act, window=w):
            dense += np.bincount(key[j] * s + key[i], minlength=s * s)
        codes = np.flatnonzero(dense)
        return codes, dense[codes]
    parts_c: list[IntArray] = []
    parts_n: list[IntArray] = []
    held = 0
    for j, i in follower_pairs(ts, key=key, ent=ent, prev=prev, can_act=can_act, window=w):
        c, n = np.unique(key[j] * s + key[i], return_counts=True)
        parts_c.append(c)
        parts_n.append(n)
        held += c.size
        if held > _DENSE_LIMIT:
            # Fold the per-lag tables so memory stays at the number of distinct pairs.
            merged = _merge(parts_c, parts_n)
            parts_c, parts_n, held = [merged[0]], [merged[1]], merged[0].size
    if not parts_c:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return _merge(parts_c, parts_n)


def _merge(parts_c: list[IntArray], parts_n: list[IntArray]) -> tuple[IntArray, IntArray]:
    codes, inv = np.unique(np.concatenate(parts_c), return_inverse=True)
    return codes, np.bincount(inv, weights=np.concatenate(parts_n)).astype(np.int64)


def _drop_weaker_direction(found: list[Found]) -> list[Found]:
    """When A -> B and B -> A both pass, only the better-supported direction is a habit."""
    by_steps = {(f.steps[0], f.steps[1]): f for f in found}
    kept: list[Found] = []
    for f in found:
        other = by_steps.get((f.steps[1], f.steps[0]))
        if other is not None and (other.confidence, other.occurrences) > (
            f.confidence,
            f.occurrences,
        ):
            continue
        kept.append(f)
    return kept


def _explain_away(
    found: list[Found],
    table: EventTable,
    instances: dict[tuple[int, int], tuple[IntArray, IntArray]],
) -> list[Found]:
    """Keep the nearest cause and the first effect.

    Garage door opens, closes, and the back door is locked a minute later: "locked after the
    door opened" is true too, but only because the door closed in between. Among pairs with
    the same action that are triggered by states of one entity, keep the nearest cause; among
    pairs with the same trigger whose actions are states of one entity, the first effect.
    Nearest and first are judged on the occurrences the pairs share: medians taken over
    different occurrences can put a rarer, later effect first.
    """
    ent = table.key_entity

    def effect_times(f: Found) -> dict[int, float]:
        # Effects of one trigger share its events: each mapped to when the effect came.
        j, i = instances[(f.steps[0], f.steps[1])]
        return dict(zip(j.tolist(), table.ts[i].tolist(), strict=True))

    def cause_times(f: Found) -> dict[int, float]:
        # Causes of one action share its events: each mapped to minus when the cause came,
        # so that, as for effects, smaller is better (a later cause is the nearer one).
        j, i = instances[(f.steps[0], f.steps[1])]
        return dict(zip(i.tolist(), (-table.ts[j]).tolist(), strict=True))

    def winners(
        group_key: Callable[[Found], tuple[int, int]], times: Callable[[Found], dict[int, float]]
    ) -> set[int]:
        groups: dict[tuple[int, int], list[Found]] = {}
        for f in found:
            groups.setdefault(group_key(f), []).append(f)
        return {id(_best(group, times)) for group in groups.values()}

    causes = winners(lambda f: (int(ent[f.steps[0]]), f.steps[1]), cause_times)
    effects = winners(lambda f: (f.steps[0], int(ent[f.steps[1]])), effect_times)
    return [f for f in found if id(f) in causes and id(f) in effects]


def _best(group: list[Found], times: Callable[[Found], dict[int, float]]) -> Found:
    """The member with the most pairwise wins: a member wins against another when it comes
    first on most of the occurrences both share; a tie, or nothing shared, goes to the
    shorter median delay."""
    if len(group) == 1:
        return group[0]
    maps = [times(f) for f in group]
    delays = [f.delay_s or 0.0 for f in group]
    wins = [0] * len(group)
    for x in range(len(group)):
        for y in range(x + 1, len(group)):
            shared = maps[x].keys() & maps[y].keys()
            lead = sum(np.sign(maps[y][k] - maps[x][k]) for k in shared)  # > 0: x first
            if lead == 0:
                lead = np.sign(delays[y] - delays[x])
            if lead:
                wins[x if lead > 0 else y] += 1
    return group[max(range(len(group)), key=lambda n: (wins[n], -delays[n]))]
