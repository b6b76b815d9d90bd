"""The one base entity of HomeIQ."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HomeIQCoordinator


class HomeIQEntity(CoordinatorEntity[HomeIQCoordinator]):
    """An entity of the HomeIQ service device; stays available when the sidecar is down."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: HomeIQCoordinator, description: EntityDescription) -> None:
        """Unique id from the entry id and the description key."""
        super().__init__(coordinator)
        self.entity_description = description
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry_id)},
            entry_type=DeviceEntryType.SERVICE,
            name="HomeIQ",
            manufacturer="HomeIQ",
            model="Habit analysis",
        )

    @property
    def available(self) -> bool:
        """Stored results stay visible whatever the sidecar does."""
        return True
