"""Deterministic category/priority from entity domains: the fallback when no classifier runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

DOMAIN_CATEGORY: dict[str, str] = {
    "light": "comfort",
    "climate": "comfort",
    "fan": "comfort",
    "cover": "comfort",
    "humidifier": "comfort",
    "lock": "security",
    "alarm_control_panel": "security",
    "camera": "security",
    "siren": "security",
    "switch": "energy",
    "water_heater": "energy",
    "media_player": "convenience",
    "vacuum": "convenience",
    "scene": "convenience",
    "script": "convenience",
    "input_boolean": "convenience",
    "valve": "maintenance",
    "update": "maintenance",
}
_FALLBACK_CATEGORY = "convenience"


def _domain(entity_id: str) -> str:
    return entity_id.split(".", 1)[0]


def category_from_entities(entity_ids: Iterable[str], categories: Sequence[str]) -> str:
    """The category most of the pattern's entity domains point to (ties: first listed)."""
    votes = Counter(
        cat
        for entity_id in entity_ids
        if (cat := DOMAIN_CATEGORY.get(_domain(entity_id))) is not None and cat in categories
    )
    if votes:
        best = max(votes.values())
        return next(cat for cat in categories if votes.get(cat) == best)
    if _FALLBACK_CATEGORY in categories:
        return _FALLBACK_CATEGORY
    return categories[0]


def priority_for_category(category: str, priorities: Sequence[str]) -> str:
    """Security habits first; everything else in the middle of the list."""
    if category == "security" and "high" in priorities:
        return "high"
    if "medium" in priorities:
        return "medium"
    return priorities[len(priorities) // 2]
