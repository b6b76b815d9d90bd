"""Streaming readers: a CSV export and a Home Assistant recorder database (read-only)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
import csv
from datetime import UTC, datetime
import math
from pathlib import Path
import sqlite3
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import MAX_TS, MIN_TS, InputError, time_range_error
from .model import Event, Restarts
from .ulid import bytes_to_ulid

_FETCH = 10_000


def load_zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name or raise InputError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InputError(f"Unknown time zone {name!r}.") from err


def read_csv(path: str | Path, *, time_zone: str = "UTC") -> Iterator[Event]:
    """Yield events from a CSV file, one row at a time.

    Columns: `timestamp_iso` (ISO 8601; naive times are taken as local time in `time_zone`)
    or `timestamp` (unix seconds), `entity_id`, `state`, and optionally `context_id`,
    `context_parent_id`, `context_user_id`.
    """
    path = Path(path)
    zone = load_zone(time_zone)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise InputError(f"Cannot open {path}: {err.strerror or err}.") from err
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path} is empty.") from None
        except (csv.Error, UnicodeDecodeError) as err:
            raise InputError(f"{path} is not a readable CSV file: {err}.") from err
        cols = {name.strip(): i for i, name in enumerate(header)}
        if "entity_id" not in cols or "state" not in cols:
            raise InputError(
                f"{path} needs columns entity_id and state (found: {', '.join(header)})."
            )
        iso = "timestamp_iso" in cols
        if not iso and "timestamp" not in cols:
            raise InputError(f"{path} needs a timestamp_iso or timestamp column.")
        i_ts = cols["timestamp_iso"] if iso else cols["timestamp"]
        i_ent, i_st = cols["entity_id"], cols["state"]
        i_ctx = cols.get("context_id")
        i_par = cols.get("context_parent_id")
        i_usr = cols.get("context_user_id")
        width = max(i_ts, i_ent, i_st, *(i for i in (i_ctx, i_par, i_usr) if i is not None))
        parse = datetime.fromisoformat
        line = 1
        try:
            for line, row in enumerate(reader, start=2):
                if len(row) <= width:
                    if not row:
                        continue
                    raise InputError(f"{path} line {line}: expected {width + 1} columns.")
                raw = row[i_ts]
                try:
                    if iso:
                        stamp = parse(raw)
                        if stamp.tzinfo is None:
                            stamp = stamp.replace(tzinfo=zone)
                        ts = stamp.timestamp()
                    else:
                        ts = float(raw)
                        if not math.isfinite(ts):
                            raise ValueError(raw)  # noqa: TRY301
                except (ValueError, OverflowError):
                    raise InputError(f"{path} line {line}: cannot parse time {raw!r}.") from None
                if not MIN_TS <= ts < MAX_TS:
                    raise time_range_error(ts, f"{path} line {line}")
                yield Event(
                    ts,
                    row[i_ent],
                    row[i_st],
                    (row[i_ctx] or None) if i_ctx is not None else None,
                    (row[i_par] or None) if i_par is not None else None,
                    (row[i_usr] or None) if i_usr is not None else None,
                )
        except (csv.Error, UnicodeDecodeError) as err:
            raise InputError(f"{path} line {line}: {err}.") from err


def _connect(path: str | Path) -> sqlite3.Connection:
    """Open the recorder DB read-only; WAL lets us read while HA writes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Cannot open {path}: no such file.")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0, check_same_thread=False
        )
        conn.execute("SELECT 1 FROM states_meta LIMIT 1").fetchall()
    except sqlite3.Error as err:
        raise InputError(f"{path} is not a readable recorder database: {err}.") from err
    return conn


_STATES_SQL = """
SELECT s.last_updated_ts, m.entity_id, s.state,
       s.context_id_bin, s.context_parent_id_bin, s.context_user_id_bin
FROM states AS s JOIN states_meta AS m ON s.metadata_id = m.metadata_id
WHERE s.last_updated_ts >= ?
  AND (s.last_changed_ts IS NULL OR s.last_changed_ts = s.last_updated_ts)
  AND s.state IS NOT NULL
"""


def read_recorder_db(
    path: str | Path,
    *,
    days: float | None = None,
    entity_ids: Collection[str] | None = None,
    now: float | None = None,
) -> Iterator[Event]:
    """Yield state changes from a recorder DB (current schema), oldest first.

    Attribute-only updates are skipped in SQL: HA stores `last_changed_ts` as NULL when it
    equals `last_updated_ts`, and an attribute-only update keeps an older `last_changed_ts`.
    """
    since = 0.0 if days is None else (now if now is not None else time.time()) - days * 86400
    sql = _STATES_SQL
    params: list[object] = [since]
    if entity_ids is not None:
        wanted = sorted(set(entity_ids))
        if not wanted:
            return
        sql += f" AND m.entity_id IN ({','.join('?' * len(wanted))})"
        params.extend(wanted)
    sql += " ORDER BY s.last_updated_ts"
    conn = _connect(path)
    to_ulid = bytes_to_ulid
    try:
        try:
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(_FETCH):
                for ts, entity_id, state, ctx, parent, user in rows:
                    yield Event(
                        float(ts), entity_id, state, to_ulid(ctx), to_ulid(parent), to_ulid(user)
                    )
        except sqlite3.Error as err:
            raise InputError(f"{path}: cannot read states: {err}.") from err
    finally:
        conn.close()


_AUTOMATION_SQL = """
SELECT e.context_id_bin
FROM events AS e JOIN event_types AS t ON e.event_type_id = t.event_type_id
WHERE t.event_type IN ('automation_triggered', 'script_started') AND e.time_fired_ts >= ?
"""


def read_automation_context_ids(
    path: str | Path, *, days: float | None = None, now: float | None = None
) -> set[str]:
    """Context ids (ULID text) of automation and script runs in the recorder DB."""
    since = 0.0 if days is None else (now if now is not None else time.time()) - days * 86400
    conn = _connect(path)
    try:
        found: set[str] = set()
        cursor = conn.execute(_AUTOMATION_SQL, (since,))
        while rows := cursor.fetchmany(_FETCH):
            found.update(u for (raw,) in rows if (u := bytes_to_ulid(raw)) is not None)
        return found
    except sqlite3.Error as err:
        raise InputError(f"{path}: cannot read automation runs: {err}.") from err
    finally:
        conn.close()


_RUN_STARTS_SQL = "SELECT start FROM recorder_runs"
_STARTED_SQL = """
SELECT e.time_fired_ts
FROM events AS e JOIN event_types AS t ON e.event_type_id = t.event_type_id
WHERE t.event_type = 'homeassistant_started' AND e.time_fired_ts >= ?
"""


def _run_start(value: object) -> float | None:
    """recorder_runs.start as SQLite holds it: naive UTC text ("2026-11-27 00:32:31.799077")."""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def read_restarts(
    path: str | Path, *, days: float | None = None, now: float | None = None
) -> Restarts:
    """When Home Assistant started in the window: recorder runs and `homeassistant_started`."""
    since = 0.0 if days is None else (now if now is not None else time.time()) - days * 86400
    conn = _connect(path)
    try:
        starts = [
            ts
            for (raw,) in conn.execute(_RUN_STARTS_SQL)
            if (ts := _run_start(raw)) is not None and ts >= since
        ]
        started = [float(ts) for (ts,) in conn.execute(_STARTED_SQL, (since,))]
        return Restarts(recorder_starts=starts, started=started)
    except sqlite3.Error as err:
        raise InputError(f"{path}: cannot read Home Assistant's starts: {err}.") from err
    finally:
        conn.close()
