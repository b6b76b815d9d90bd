"""Reads state changes from the recorder (read-only, streamed) into an /v1/analyze body."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import json
from typing import IO, Any

from homeassistant.components.recorder.db_schema import (
    Events,
    EventTypes,
    RecorderRuns,
    States,
    StatesMeta,
)
from homeassistant.const import ATTR_ENTITY_ID, EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import session_scope
from homeassistant.util.ulid import bytes_to_ulid_or_none
from sqlalchemy import or_, select

from .const import (
    CONF_EXCLUDE_AREAS,
    CONF_EXCLUDE_DOMAINS,
    CONF_EXCLUDE_ENTITIES,
    CONF_INCLUDE_AREAS,
    CONF_INCLUDE_DOMAINS,
    CONF_INCLUDE_ENTITIES,
    DEFAULT_DOMAINS,
)

# The person entity's attribute listing its trackers (not imported: HomeIQ does not depend on
# the person integration).
ATTR_DEVICE_TRACKERS = "device_trackers"
# Rows fetched and encoded per round trip: bounds memory (~ a few MB per chunk).
CHUNK_ROWS = 1_000
AUTOMATION_EVENTS = ("automation_triggered", "script_started")


def _ulid_json(context_bin: bytes | None) -> str:
    ulid = bytes_to_ulid_or_none(context_bin)
    return "null" if ulid is None else f'"{ulid}"'


def _utc_ts(when: datetime) -> float:
    """recorder_runs keeps naive UTC datetimes in SQLite (aware ones elsewhere)."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _dumps(value: Any) -> str:
    """Compact JSON: the body of a year of history is hundreds of MB otherwise."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class EntitySelection:
    """Which entities to read; built in the event loop (registries), used in the executor."""

    domains: frozenset[str]
    include_only: frozenset[str] | None  # when set, nothing else is read
    always: frozenset[str]  # explicitly included entities, whatever their domain
    exclude: frozenset[str]

    def wants(self, entity_id: str) -> bool:
        """True if the entity's history should be analysed."""
        if entity_id in self.exclude:
            return False
        if entity_id in self.always:
            return True
        if self.include_only is not None and entity_id not in self.include_only:
            return False
        return entity_id.split(".", 1)[0] in self.domains


@dataclass(frozen=True, kw_only=True)
class HistoryStats:
    """What was read."""

    events: int
    entities: int
    automation_contexts: int
    restarts: int


def _area_entities(hass: HomeAssistant, area_ids: Iterable[str]) -> set[str]:
    """Entities in the areas, directly or through their device."""
    ent_reg = er.async_get(hass)
    dev_reg = dr.async_get(hass)
    found: set[str] = set()
    for area_id in area_ids:
        found.update(e.entity_id for e in er.async_entries_for_area(ent_reg, area_id))
        for device in dr.async_entries_for_area(dev_reg, area_id):
            found.update(
                e.entity_id
                for e in er.async_entries_for_device(ent_reg, device.id)
                if e.area_id is None  # an entity's own area wins over its device's
            )
    return found


def _not_household(hass: HomeAssistant) -> set[str]:
    """Entities no household acts through: one an integration hid (another entity stands
    for it: switch_as_x's light for the relay it wraps, a group that hides its members), and
    a device's settings and health (`entity_category` config or diagnostic: child lock,
    power-on behaviour, connectivity, firmware updates), which HA itself keeps off
    auto-generated dashboards."""
    return {
        entry.entity_id
        for entry in er.async_get(hass).entities.values()
        if entry.hidden_by is er.RegistryEntryHider.INTEGRATION or entry.entity_category
    }


def _trackers_of_persons(hass: HomeAssistant, exclude: set[str]) -> set[str]:
    return {
        tracker
        for person in hass.states.async_all("person")
        if person.entity_id not in exclude
        for tracker in person.attributes.get(ATTR_DEVICE_TRACKERS) or ()
        if isinstance(tracker, str)
    }


@callback
def async_build_selection(
    hass: HomeAssistant, options: Mapping[str, Any], only: Iterable[str] | None = None
) -> EntitySelection:
    """Turn the include/exclude options (and an action's entity filter) into a selection."""
    include_domains = set(options.get(CONF_INCLUDE_DOMAINS) or DEFAULT_DOMAINS)
    domains = frozenset(include_domains - set(options.get(CONF_EXCLUDE_DOMAINS) or ()))
    exclude = set(options.get(CONF_EXCLUDE_ENTITIES) or ())
    if exclude_areas := options.get(CONF_EXCLUDE_AREAS):
        exclude |= _area_entities(hass, exclude_areas)
    include_only: set[str] | None = None
    if include_areas := options.get(CONF_INCLUDE_AREAS):
        include_only = _area_entities(hass, include_areas)
    always = frozenset(options.get(CONF_INCLUDE_ENTITIES) or ())
    # Reading a hidden relay beside its light finds "the light turns on right after the
    # relay" for one device; a router's connectivity is no habit. Naming them still reads them.
    represented = _not_household(hass)
    if "person" in domains:
        # A person stands for the trackers assigned to it: reading both finds every habit
        # around arriving home twice (after the phone, and after the person).
        represented |= _trackers_of_persons(hass, exclude)
    exclude |= represented - always - set(only or ())
    if only is not None:
        # An action's filter narrows everything, including explicit includes.
        wanted = frozenset(only)
        include_only = set(wanted) if include_only is None else include_only & wanted
        always = always & wanted | (wanted - exclude)
    return EntitySelection(
        domains=domains,
        include_only=frozenset(include_only) if include_only is not None else None,
        always=frozenset(always),
        exclude=frozenset(exclude),
    )


@callback
def async_groups(hass: HomeAssistant, selection: EntitySelection) -> dict[str, list[str]]:
    """Groups among the read entities, with their members: HA's groups (old-style, and the
    light, switch, cover, ... group helpers) list them in their `entity_id` attribute, and so
    do bridges' groups (a Hue room or zone: as a set)."""
    groups: dict[str, list[str]] = {}
    for state in hass.states.async_all():
        members = state.attributes.get(ATTR_ENTITY_ID)
        if (
            state.domain != "scene"  # a scene lists what it sets, and is not their state
            and isinstance(members, (list, tuple, set, frozenset))
            and all(isinstance(m, str) for m in members)
            and (selection.wants(state.entity_id) or any(map(selection.wants, members)))
        ):
            groups[state.entity_id] = sorted(members)
    return groups


def write_analyze_body(
    hass: HomeAssistant,
    selection: EntitySelection,
    *,
    start_ts: float,
    end_ts: float,
    extra: Mapping[str, Any],
    out: IO[bytes],
) -> HistoryStats:
    """Stream the window's state changes as a compact /v1/analyze body into `out`.

    Runs in the recorder's executor (database access must not happen in the event loop) with a
    read-only session; rows are fetched CHUNK_ROWS at a time and written out at once, so memory
    stays flat whatever the size of the window.
    """
    events = 0
    with session_scope(hass=hass, read_only=True) as session:
        entity_of = {
            metadata_id: entity_id
            for metadata_id, entity_id in session.execute(
                select(StatesMeta.metadata_id, StatesMeta.entity_id)
            )
            if entity_id and selection.wants(entity_id)
        }
        out.write(b'{"events":[')
        if entity_of:
            stmt = (
                select(
                    States.last_updated_ts,
                    States.metadata_id,
                    States.state,
                    States.context_id_bin,
                    States.context_parent_id_bin,
                    States.context_user_id_bin,
                )
                .where(
                    States.metadata_id.in_(list(entity_of)),
                    States.last_updated_ts >= start_ts,
                    States.last_updated_ts < end_ts,
                    # Attribute-only updates are not state changes.
                    or_(
                        States.last_changed_ts.is_(None),
                        States.last_changed_ts == States.last_updated_ts,
                    ),
                    # unavailable/unknown rows go along: the miner takes the row after one
                    # for a restore, not a change (as it does reading a recorder DB itself).
                    States.state.is_not(None),
                )
                .order_by(States.last_updated_ts)
                .execution_options(yield_per=CHUNK_ROWS)
            )
            entity_json = {mid: _dumps(eid) for mid, eid in entity_of.items()}
            state_json: dict[str, str] = {}
            result = session.execute(stmt)
            for partition in result.partitions(CHUNK_ROWS):
                # Rows become JSON text at once: strings are not tracked by the garbage
                # collector, so reading a million rows does not set off full collections
                # that would hold the GIL (and stall the event loop) for a long time.
                parts = []
                for ts, metadata_id, state, ctx, parent, user in partition:
                    if (state_text := state_json.get(state)) is None:
                        state_text = state_json[state] = _dumps(state)
                    parts.append(
                        f"[{ts!r},{entity_json[metadata_id]},{state_text},"
                        f"{_ulid_json(ctx)},{_ulid_json(parent)},"
                        f"{'null' if user is None else chr(34) + user.hex() + chr(34)}]"
                    )
                if events:
                    out.write(b",")
                out.write(",".join(parts).encode())
                events += len(parts)
        automation_ids = [
            ulid
            for (ctx,) in session.execute(
                select(Events.context_id_bin)
                .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
                .where(
                    EventTypes.event_type.in_(AUTOMATION_EVENTS),
                    Events.time_fired_ts >= start_ts,
                    Events.time_fired_ts < end_ts,
                )
            )
            if (ulid := bytes_to_ulid_or_none(ctx)) is not None
        ]
        # A start writes every entity's state at once; the miner must not take that for a
        # habit. The recorder's run starts (early in boot) and HA's "started" bound it.
        recorder_starts = [
            ts
            for (start,) in session.execute(select(RecorderRuns.start))
            if start is not None and start_ts <= (ts := _utc_ts(start)) < end_ts
        ]
        started = [
            ts
            for (ts,) in session.execute(
                select(Events.time_fired_ts)
                .join(EventTypes, Events.event_type_id == EventTypes.event_type_id)
                .where(
                    EventTypes.event_type == EVENT_HOMEASSISTANT_STARTED,
                    Events.time_fired_ts >= start_ts,
                    Events.time_fired_ts < end_ts,
                )
            )
        ]
    out.write(b'],"automation_context_ids":')
    out.write(_dumps(automation_ids).encode())
    out.write(b',"restarts":')
    out.write(_dumps({"recorder_starts": recorder_starts, "started": started}).encode())
    # Friendly names for the texts of the patterns (StateMachine.get is safe from a thread).
    names = {
        entity_id: state.name
        for entity_id in entity_of.values()
        if (state := hass.states.get(entity_id)) is not None and state.name != entity_id
    }
    out.write(b',"names":')
    out.write(_dumps(names).encode())
    for key, value in extra.items():
        out.write(f",{json.dumps(key)}:".encode())
        out.write(_dumps(value).encode())
    out.write(b"}")
    out.flush()
    return HistoryStats(
        events=events,
        entities=len(entity_of),
        automation_contexts=len(automation_ids),
        restarts=len(recorder_starts),
    )
