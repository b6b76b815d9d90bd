"""Score mined patterns against a synthetic home's planted habits.

Matching rules (docs/miner.md):
- a time habit matches a time_of_day pattern on the same entity and state, within
  `time_tolerance_min` of the planted time, with the same weekday set;
- a pair matches a trigger_action pattern with the same two steps in the same order;
- a sequence matches a sequence pattern with the same three steps in order;
- a suggestion is correct when its pattern matches a planted manual habit, is an ordered
  sub-pair of a planted sequence, or pairs two planted time habits whose times lie within the
  pair window of each other (a real, implied correlation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .synth import Planted

Step = tuple[str, str]


def _steps(pattern: dict[str, Any]) -> tuple[Step, ...]:
    return tuple((s["entity_id"], s["state"]) for s in pattern["steps"])


def _minutes(hhmm: str) -> float:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _circ(a: float, b: float) -> float:
    return abs((a - b + 720) % 1440 - 720)


def matches(pattern: dict[str, Any], planted: Planted, *, time_tolerance_min: float = 20) -> bool:
    if pattern["type"] != planted.kind or _steps(pattern) != planted.steps:
        return False
    if planted.kind != "time_of_day":
        return True
    assert planted.time_min is not None
    assert planted.weekdays is not None
    return (
        _circ(_minutes(pattern["time"]), planted.time_min) <= time_tolerance_min
        and tuple(pattern["weekdays"]) == planted.weekdays
    )


def _implied(pattern: dict[str, Any], planted: Sequence[Planted], window_min: float) -> bool:
    """Pairs that follow from planted habits without being planted themselves."""
    if pattern["type"] != "trigger_action":
        return False
    a, b = _steps(pattern)
    for p in planted:
        if p.kind == "sequence" and not p.automated:
            order = list(p.steps)
            if a in order and b in order and order.index(a) < order.index(b):
                return True
    times = {p.steps[0]: p.time_min for p in planted if p.kind == "time_of_day"}
    ta, tb = times.get(a), times.get(b)
    return ta is not None and tb is not None and _circ(ta, tb) <= window_min


def _order_errors(pattern: dict[str, Any], planted: Sequence[Planted]) -> int:
    """1 if the pattern puts two steps of a planted chain in the reverse order."""
    if pattern["type"] == "time_of_day":
        return 0
    found = _steps(pattern)
    for p in planted:
        if p.kind == "time_of_day":
            continue
        order = list(p.steps)
        for x in range(len(found)):
            for y in range(x + 1, len(found)):
                if (
                    found[x] in order
                    and found[y] in order
                    and order.index(found[x]) > order.index(found[y])
                ):
                    return 1
    return 0


def score(
    patterns: Sequence[dict[str, Any]],
    planted: Sequence[Planted],
    *,
    pair_window_s: float = 300.0,
) -> dict[str, Any]:
    human = [p for p in planted if not p.automated]
    existing = [p for p in planted if p.automated]
    found_human = [p for p in human if any(matches(q, p) for q in patterns)]
    missed = [p for p in human if p not in found_human]
    suggested = [q for q in patterns if q["suggestion"] is not None]
    correct = [
        q
        for q in suggested
        if any(matches(q, p) for p in human) or _implied(q, human, pair_window_s / 60)
    ]
    resuggested = [q for q in suggested if any(matches(q, p) for p in existing)]
    existing_flagged = [
        p for p in existing if any(matches(q, p) and q["automated"] for q in patterns)
    ]
    return {
        "planted": len(human),
        "found": len(found_human),
        "recall": len(found_human) / len(human) if human else 1.0,
        "missed": [f"{p.kind} {p.steps} {p.time_min} {p.weekdays}" for p in missed],
        "suggestions": len(suggested),
        "correct_suggestions": len(correct),
        "precision": len(correct) / len(suggested) if suggested else 1.0,
        "wrong_suggestions": [q["description"] for q in suggested if q not in correct],
        "direction_errors": sum(_order_errors(q, planted) for q in patterns),
        "existing_resuggested": len(resuggested),
        "existing_found_as_automated": len(existing_flagged),
        "existing": len(existing),
    }
