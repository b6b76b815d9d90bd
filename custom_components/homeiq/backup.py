"""A second copy of the user's decisions beside the results file.

Home Assistant moves a `.storage` file it cannot parse aside and starts empty; without this
copy, every accepted or dismissed suggestion would silently come back as new. The copy is
written with HA's JSON helper directly (not a Store), so a failed write (disk full) raises and
HomeIQ can say so, where Store only logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.json import save_json
from homeassistant.helpers.storage import STORAGE_DIR
from homeassistant.util.json import load_json

from .const import DOMAIN, LOGGER

BACKUP_VERSION = 1


def backup_path(hass: HomeAssistant, entry_id: str) -> Path:
    """`.storage/homeiq.<entry_id>.decisions`, next to the results file."""
    return Path(hass.config.path(STORAGE_DIR, f"{DOMAIN}.{entry_id}.decisions"))


def write_decisions(path: Path, decisions: dict[str, dict[str, Any]]) -> None:
    """Write the copy (temp file + rename); raises HomeAssistantError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_json(str(path), {"version": BACKUP_VERSION, "decisions": decisions})


def read_decisions(path: Path) -> dict[str, dict[str, Any]]:
    """The copied decisions; empty when there is none or it is unreadable (logged)."""
    try:
        stored = load_json(str(path), default={})
    except HomeAssistantError as err:
        LOGGER.warning("The HomeIQ decisions backup %s is unreadable (%s); ignoring it", path, err)
        return {}
    decisions = stored.get("decisions") if isinstance(stored, dict) else None
    if not isinstance(decisions, dict):
        return {}
    return {
        str(pid): dict(value)
        for pid, value in decisions.items()
        if isinstance(value, dict) and {"status", "signature", "at"} <= value.keys()
    }


def remove(path: Path) -> None:
    """Delete the copy (entry removed)."""
    path.unlink(missing_ok=True)
