"""HomeIQ sensors: patterns, new suggestions, last analysis, patterns per category."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import CATEGORIES
from .coordinator import HomeIQCoordinator
from .data import TOP_PATTERNS_IN_ATTRIBUTES, brief
from .entity import HomeIQEntity

if TYPE_CHECKING:
    from . import HomeIQConfigEntry

PARALLEL_UPDATES = 0  # coordinator-driven, nothing to poll


@dataclass(frozen=True, kw_only=True)
class HomeIQSensorEntityDescription(SensorEntityDescription):
    """A sensor with functions for its value and its (small) attributes."""

    value_fn: Callable[[HomeIQCoordinator], int | datetime | None]
    attrs_fn: Callable[[HomeIQCoordinator], dict[str, Any]] | None = None


def _top_patterns(coordinator: HomeIQCoordinator) -> dict[str, Any]:
    ranked = sorted(coordinator.data.patterns, key=lambda p: -float(p.get("confidence") or 0.0))
    return {"top_patterns": [brief(p) for p in ranked[:TOP_PATTERNS_IN_ATTRIBUTES]]}


def _new_suggestions(coordinator: HomeIQCoordinator) -> dict[str, Any]:
    shown = coordinator.data.new_suggestions(coordinator.max_suggestions)
    return {"suggestion_ids": [p["id"] for p in shown[:TOP_PATTERNS_IN_ATTRIBUTES]]}


# A model string is "source (precision)" or an honest fallback; a long local path is cut.
MAX_MODEL_TEXT = 120


def _models(summary: dict[str, Any]) -> dict[str, str] | None:
    """Which model ran per role (embed, rerank, classify), or which fallback: from the summary."""
    models = summary.get("models")
    if not isinstance(models, dict) or not models:
        return None
    return {str(role)[:20]: str(what)[:MAX_MODEL_TEXT] for role, what in list(models.items())[:5]}


def _last_analysis(coordinator: HomeIQCoordinator) -> dict[str, Any]:
    return {
        "duration_s": coordinator.data.duration_s,
        "events": coordinator.data.events,
        "models": _models(coordinator.data.summary),
    }


def _category(category: str) -> HomeIQSensorEntityDescription:
    return HomeIQSensorEntityDescription(
        key=f"{category}_patterns",
        translation_key=f"{category}_patterns",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # detail most dashboards do not need
        value_fn=lambda c: c.data.category_counts()[category],
    )


SENSORS: tuple[HomeIQSensorEntityDescription, ...] = (
    HomeIQSensorEntityDescription(
        key="patterns",
        translation_key="patterns",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: len(c.data.patterns),
        attrs_fn=_top_patterns,
    ),
    HomeIQSensorEntityDescription(
        key="new_suggestions",
        translation_key="new_suggestions",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: len(c.data.new_suggestions(c.max_suggestions)),
        attrs_fn=_new_suggestions,
    ),
    HomeIQSensorEntityDescription(
        key="last_analysis",
        translation_key="last_analysis",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: c.data.last_analysis,
        attrs_fn=_last_analysis,
    ),
    *(_category(category) for category in CATEGORIES),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """One sensor per description."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(HomeIQSensor(coordinator, description) for description in SENSORS)


class HomeIQSensor(HomeIQEntity, SensorEntity):
    """A HomeIQ sensor."""

    entity_description: HomeIQSensorEntityDescription
    # Lists change every analysis and say nothing over time: keep them out of the recorder.
    # `models` is recorded: it changes only when the models do (the recorder stores each
    # distinct attribute set once), and its history says which models produced an analysis.
    _unrecorded_attributes = frozenset({"top_patterns", "suggestion_ids"})

    @property
    def native_value(self) -> int | datetime | None:
        """The description's value."""
        return self.entity_description.value_fn(self.coordinator)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Small attributes (a top few, never the whole list)."""
        if self.entity_description.attrs_fn is None:
            return None
        return self.entity_description.attrs_fn(self.coordinator)
