"""mine(): events in, patterns out."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
import time
from typing import Any

from .commands import fold_commands
from .found import Found
from .model import Event, Location, MinerConfig, MiningResult, Restarts
from .moments import fold_moments
from .pairs import detect_pairs
from .patterns import build_pattern
from .readers import load_zone
from .sequences import detect_sequences
from .table import build_table
from .timeofday import detect_time_of_day


def mine(
    events: Iterable[Event],
    *,
    time_zone: str,
    config: MinerConfig | None = None,
    automation_context_ids: Collection[str] = (),
    names: Mapping[str, str] | None = None,
    restarts: Restarts | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
    location: Location | None = None,
) -> MiningResult:
    """Detect time-of-day, trigger -> action and sequence habits in a stream of state changes.

    `names` maps entity ids to friendly names for the patterns' texts (ids stay the same);
    `restarts` says when Home Assistant started, whose writes are no changes of their own;
    `groups` maps group entities to their members (a group follows its members);
    `location` (the home's) lets time habits follow sunrise or sunset.
    """
    cfg = config or MinerConfig()
    zone = load_zone(time_zone)
    started = time.perf_counter()
    table = build_table(
        events,
        zone=zone,
        config=cfg,
        automation_context_ids=automation_context_ids,
        restarts=restarts,
    )
    read_s = time.perf_counter() - started
    members = _group_members(groups or {}, table.entities)
    found: list[Found] = detect_time_of_day(table, cfg, zone=zone, location=location)
    pairs, index = detect_pairs(table, cfg, members)
    found = fold_commands(found + pairs, table, index.instances, members)
    found = fold_moments(found, table, index.instances, members, cfg)
    found += detect_sequences(table, index, cfg)
    patterns: list[dict[str, Any]] = [build_pattern(f, table, zone, cfg, names) for f in found]
    patterns = _capped(patterns, cfg.max_patterns)
    stats: dict[str, Any] = {
        "events_read": table.events_read,
        "events_used": int(table.ts.size),
        "startup_rows": table.startup_rows,
        "entities": len(table.entities),
        "patterns": len(patterns),
        "automated_patterns": sum(1 for p in patterns if p["automated"]),
        "suggestions": sum(1 for p in patterns if p["suggestion"] is not None),
        "read_s": round(read_s, 3),
        "duration_s": round(time.perf_counter() - started, 3),
        "time_zone": time_zone,
    }
    return MiningResult(patterns=patterns, stats=stats)


def _group_members(
    groups: Mapping[str, Collection[str]], entities: list[str]
) -> frozenset[tuple[int, int]]:
    """(group, member) entity codes, members of nested groups included; (group, -1) when a
    member has no rows (so a group is never taken to be switched with all its members)."""
    code = {entity_id: n for n, entity_id in enumerate(entities)}
    related: set[tuple[int, int]] = set()
    for group in groups:
        if group not in code:
            continue
        seen: set[str] = set()
        todo = list(groups[group])
        while todo:
            member = todo.pop()
            if member in seen or member == group:
                continue
            seen.add(member)
            todo.extend(groups.get(member, ()))
            related.add((code[group], code.get(member, -1)))
    return frozenset(related)


def _ranked(patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(patterns, key=lambda p: (-p["confidence"], -p["occurrences"], p["id"]))


def _capped(patterns: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """The `cap` best patterns, those with a suggestion first: in a big home, sensor -> sensor
    insights and existing automations must not push what the user could act on out."""
    suggestible = _ranked([p for p in patterns if p["suggestion"] is not None])[:cap]
    others = _ranked([p for p in patterns if p["suggestion"] is None])
    return _ranked(suggestible + others[: cap - len(suggestible)])
