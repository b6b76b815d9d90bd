"""HomeIQ binary sensor: is the sidecar reachable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .entity import HomeIQEntity

if TYPE_CHECKING:
    from . import HomeIQConfigEntry

PARALLEL_UPDATES = 0

SIDECAR = BinarySensorEntityDescription(
    key="sidecar",
    translation_key="sidecar",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """The connectivity sensor."""
    async_add_entities([HomeIQSidecarSensor(entry.runtime_data.coordinator, SIDECAR)])


class HomeIQSidecarSensor(HomeIQEntity, BinarySensorEntity):
    """On while the sidecar answers."""

    @property
    def is_on(self) -> bool:
        """Connected or not."""
        return self.coordinator.connected

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """How the sidecar runs (managed: installing, starting, running...)."""
        return {
            "mode": self.coordinator.config_entry.data.get("mode"),
            "state": self.coordinator.sidecar.state,
        }
