"""HomeIQ: learns the habits of a home and suggests automations, with local models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType

from . import backup, issues
from .card import async_register_card
from .const import (
    CONF_MODE,
    CONF_PRECISION,
    CONF_TOKEN,
    CONF_URL,
    DEFAULT_PRECISION,
    DOMAIN,
    MODE_EXTERNAL,
)
from .coordinator import STORAGE_VERSION, UNSAVED, HomeIQCoordinator, storage_key
from .services import async_setup_services
from .sidecar import Sidecar

PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR, Platform.TODO]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


@dataclass(kw_only=True)
class HomeIQRuntimeData:
    """What a loaded HomeIQ entry holds while it runs."""

    mode: str
    sidecar: Sidecar
    coordinator: HomeIQCoordinator


type HomeIQConfigEntry = ConfigEntry[HomeIQRuntimeData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and serve the dashboard card once, whatever the entries."""
    async_setup_services(hass)
    await async_register_card(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Restore stored results, start the sidecar in the background; no analysis here."""
    mode = entry.data[CONF_MODE]
    coordinator: HomeIQCoordinator | None = None

    def sidecar_changed() -> None:
        if coordinator is not None:
            coordinator.async_sidecar_changed()

    sidecar = Sidecar(
        hass,
        token=entry.data[CONF_TOKEN],
        url=entry.data.get(CONF_URL) if mode == MODE_EXTERNAL else None,
        precision=entry.options.get(CONF_PRECISION, DEFAULT_PRECISION),
        on_change=sidecar_changed,
    )
    coordinator = HomeIQCoordinator(hass, entry, sidecar)
    # Set before the first await: a reload leaves the entry without runtime data for no longer
    # than it must.
    entry.runtime_data = HomeIQRuntimeData(mode=mode, sidecar=sidecar, coordinator=coordinator)
    await coordinator.async_restore()

    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    coordinator.async_schedule()
    coordinator.async_follow_automations()

    async def stop_sidecar(_event: Event | None = None) -> None:
        await sidecar.async_stop()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop_sidecar))
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    if sidecar.managed:
        entry.async_create_background_task(hass, sidecar.async_run(), "homeiq sidecar start")
    else:
        entry.async_create_background_task(
            hass, coordinator.async_check_sidecar(), "homeiq sidecar check"
        )
    return True


async def _async_options_updated(hass: HomeAssistant, entry: HomeIQConfigEntry) -> None:
    """Options change the schedule, filters and precision: reload."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Unload platforms and stop the sidecar."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        coordinator = entry.runtime_data.coordinator
        await entry.runtime_data.sidecar.async_stop()
        await coordinator.async_unload()
        # A stopped entry reports nothing: its issues would be stale; but results it could
        # not save are still waiting for the disk (coordinator.UNSAVED).
        kept = {issues.ISSUE_SAVE_FAILED} if coordinator.save_failed else set()
        issues.async_clear(hass, *(i for i in issues.ALL_ISSUES if i not in kept))
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> None:
    """Removing HomeIQ leaves no repair issue and no stored results behind."""
    hass.data.get(UNSAVED, {}).pop(entry.entry_id, None)
    issues.async_clear(hass, *issues.ALL_ISSUES)
    await Store[dict[str, Any]](hass, STORAGE_VERSION, storage_key(entry.entry_id)).async_remove()
    await hass.async_add_executor_job(backup.remove, backup.backup_path(hass, entry.entry_id))
