"""A demo home from a recorded event log: HA entities that match it, and its history replayed.

The lights, switches and binary sensors are template entities backed by input_booleans, so names
resolve in the UI and an accepted suggestion can really switch them; sensors are template
sensors; the weather is a template weather backed by an input_select; a phone is a device
tracker from known_devices.yaml (its state is set with `device_tracker.see`). History is written
straight into the recorder's SQLite database with the original spacing, shifted so that the last
event is a minute before Home Assistant started (so the start-up's own writes come after it).
"""

from __future__ import annotations

from collections.abc import Iterator
import csv
from dataclasses import dataclass
from pathlib import Path
import sqlite3
import time

from homeassistant.util.ulid import ulid_at_time, ulid_to_bytes

# Domains the demo can represent (others in a log are skipped).
SWITCHABLE_DOMAINS = ("light", "switch", "binary_sensor")
SUPPORTED_DOMAINS = (*SWITCHABLE_DOMAINS, "sensor", "weather", "device_tracker")
# The states a weather entity may have (HA's weather conditions).
WEATHER_CONDITIONS = (
    "clear-night", "cloudy", "exceptional", "fog", "hail", "lightning", "lightning-rainy",
    "partlycloudy", "pouring", "rainy", "snowy", "snowy-rainy", "sunny", "windy", "windy-variant",
)  # fmt: skip
# Where the demo home is (London): HomeIQ looks for habits that follow the sun there.
LOCATION = (51.5, -0.12)
# The first line of the files the demo writes; a file without it is the user's and is kept.
GENERATED = "# Written by demo/run.py from the recorded home; rewritten when the demo changes."


@dataclass(frozen=True, kw_only=True)
class DemoEntity:
    """One entity of the demo home."""

    entity_id: str
    numeric: bool

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    @property
    def object_id(self) -> str:
        return self.entity_id.split(".", 1)[1]

    @property
    def switchable(self) -> bool:
        """On/off, held by an input_boolean (lights, switches, binary sensors)."""
        return self.domain in SWITCHABLE_DOMAINS

    @property
    def backing(self) -> str:
        """The input_boolean (or for weather, input_select) that holds the entity's state."""
        if self.domain == "weather":
            return f"input_select.demo_weather_{self.object_id}"
        return f"input_boolean.demo_{self.object_id}"

    @property
    def name(self) -> str:
        # Template entities derive their entity id from the name's slug, so the name is the
        # object id in words ("Hallway lights"); the recording has no other names.
        words = self.object_id.replace("_", " ")
        return words[:1].upper() + words[1:]


def read_log(path: Path) -> Iterator[tuple[float, str, str]]:
    """Yield (unix time, entity_id, state) from a `timestamp_iso,entity_id,state` CSV."""
    from datetime import datetime

    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            when = datetime.fromisoformat(row["timestamp_iso"])
            yield when.timestamp(), row["entity_id"], row["state"]


def entities_of(path: Path) -> list[DemoEntity]:
    """The log's entities that the demo can create, in first-seen order."""
    seen: dict[str, bool] = {}
    for _, entity_id, state in read_log(path):
        if entity_id.split(".", 1)[0] not in SUPPORTED_DOMAINS:
            continue
        numeric = entity_id.startswith("sensor.")
        seen.setdefault(entity_id, numeric)
        del state
    return [DemoEntity(entity_id=e, numeric=n) for e, n in seen.items()]


def configuration_yaml(entities: list[DemoEntity], *, time_zone: str) -> str:
    """configuration.yaml for the demo: the parts of default_config the demo needs, plus entities."""
    lines = [
        GENERATED,
        "homeassistant:",
        "  name: HomeIQ demo home",
        f"  time_zone: {time_zone}",
        "  unit_system: metric",
        "  country: GB",
        f"  latitude: {LOCATION[0]}",
        f"  longitude: {LOCATION[1]}",
        "  elevation: 10",
        "",
        "frontend:",
        "config:",
        "history:",
        "logbook:",
        "energy:",
        "person:",
        "automation: !include automations.yaml",
        "script: !include scripts.yaml",
        "scene: !include scenes.yaml",
        "recorder:",
        "  purge_keep_days: 60",
        "logger:",
        "  default: warning",
        "  logs:",
        "    custom_components.homeiq: info",
        "",
        "input_boolean:",
    ]
    switchable = [e for e in entities if e.switchable]
    for ent in switchable:
        lines += [f"  demo_{ent.object_id}:", f"    name: {ent.name} (demo backing)"]
    weathers = [e for e in entities if e.domain == "weather"]
    if weathers:
        lines += ["", "input_select:"]
        for ent in weathers:
            lines += [
                f"  demo_weather_{ent.object_id}:",
                f"    name: {ent.name} weather (demo backing)",
                f"    options: [{', '.join(WEATHER_CONDITIONS)}]",
            ]
    if any(e.domain == "device_tracker" for e in entities):
        lines += ["", "device_tracker:  # the devices are in known_devices.yaml"]
    lines += ["", "template:", "  - binary_sensor:"]
    for ent in (e for e in switchable if e.domain == "binary_sensor"):
        lines += [
            f'      - name: "{ent.name}"',
            f"        unique_id: demo_{ent.object_id}",
            "        device_class: occupancy",
            f"        state: \"{{{{ is_state('{ent.backing}', 'on') }}}}\"",
        ]
    lines += ["  - sensor:"]
    for ent in (e for e in entities if e.numeric):
        lines += [
            f'      - name: "{ent.name}"',
            f"        unique_id: demo_{ent.object_id}",
            "        unit_of_measurement: lx",
            '        state: "0"',
        ]
    if weathers:
        lines += ["  - weather:"]
        for ent in weathers:
            lines += [
                f'      - name: "{ent.name}"',
                f"        unique_id: demo_{ent.object_id}",
                f"        condition_template: \"{{{{ states('{ent.backing}') }}}}\"",
                '        temperature_template: "{{ 12 }}"',
                '        humidity_template: "{{ 75 }}"',
            ]
    for domain, key in (("light", "lights"), ("switch", "switches")):
        members = [e for e in switchable if e.domain == domain]
        if not members:
            continue
        lines += ["", f"{domain}:", "  - platform: template", f"    {key}:"]
        for ent in members:
            lines += [
                f"      {ent.object_id}:",
                f'        friendly_name: "{ent.name}"',
                f"        unique_id: demo_{ent.object_id}",
                f"        value_template: \"{{{{ is_state('{ent.backing}', 'on') }}}}\"",
                "        turn_on:",
                "          action: input_boolean.turn_on",
                f"          target: {{entity_id: {ent.backing}}}",
                "        turn_off:",
                "          action: input_boolean.turn_off",
                f"          target: {{entity_id: {ent.backing}}}",
            ]
    return "\n".join(lines) + "\n"


def known_devices_yaml(entities: list[DemoEntity]) -> str:
    """known_devices.yaml: one tracked device per device_tracker entity (id = object id)."""
    lines = [GENERATED]
    for ent in (e for e in entities if e.domain == "device_tracker"):
        lines += [f"{ent.object_id}:", f'  name: "{ent.name}"', "  track: true"]
    return "\n".join(lines) + "\n"


def replay(
    log: Path, database: Path, entities: list[DemoEntity], *, end: float | None = None
) -> int:
    """Write the log's state changes into the recorder DB, shifted to end at `end` (default: a
    minute ago). Returns the number of rows written. Safe while HA runs (one short transaction).
    """
    wanted = {e.entity_id for e in entities}
    rows = [r for r in read_log(log) if r[1] in wanted]
    if not rows:
        return 0
    shift = (end if end is not None else time.time() - 60) - rows[-1][0]
    conn = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        # Take the write lock before reading states_meta: HA's recorder adds the same entities
        # there as it records their first states (a read, then an insert, raced it once).
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO states_meta (entity_id) VALUES (?)",
            [(entity_id,) for entity_id in sorted(wanted)],
        )
        meta: dict[str, int] = dict(
            conn.execute("SELECT entity_id, metadata_id FROM states_meta").fetchall()
        )
        last_state: dict[str, str] = {}
        batch = []
        for ts, entity_id, state in rows:
            if last_state.get(entity_id) == state:
                continue  # the recorder stores changes, not repeats
            last_state[entity_id] = state
            when = ts + shift
            batch.append(
                (state, when, None, None, 0, ulid_to_bytes(ulid_at_time(when)), meta[entity_id])
            )
        conn.executemany(
            "INSERT INTO states (state, last_updated_ts, last_changed_ts, last_reported_ts, "
            "origin_idx, context_id_bin, metadata_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return len(batch)
