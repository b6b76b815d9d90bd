"""Shared helpers: a recorder database with Home Assistant's current schema (the parts we read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
import sqlite3

import pytest

from homeiq_miner.ulid import ulid_to_bytes

SCHEMA = """
CREATE TABLE states_meta (metadata_id INTEGER PRIMARY KEY, entity_id VARCHAR(255));
CREATE TABLE states (
  state_id INTEGER PRIMARY KEY, entity_id CHAR(0), state VARCHAR(255), attributes CHAR(0),
  event_id SMALLINT, last_changed CHAR(0), last_changed_ts FLOAT, last_reported_ts FLOAT,
  last_updated CHAR(0), last_updated_ts FLOAT, old_state_id INTEGER, attributes_id INTEGER,
  context_id CHAR(0), context_user_id CHAR(0), context_parent_id CHAR(0), origin_idx SMALLINT,
  context_id_bin BLOB, context_user_id_bin BLOB, context_parent_id_bin BLOB,
  metadata_id INTEGER REFERENCES states_meta(metadata_id)
);
CREATE INDEX ix_states_last_updated_ts ON states (last_updated_ts);
CREATE TABLE event_types (event_type_id INTEGER PRIMARY KEY, event_type VARCHAR(64));
CREATE TABLE events (
  event_id INTEGER PRIMARY KEY, event_type CHAR(0), event_data CHAR(0), origin CHAR(0),
  origin_idx SMALLINT, time_fired CHAR(0), time_fired_ts FLOAT, context_id CHAR(0),
  context_user_id CHAR(0), context_parent_id CHAR(0), data_id INTEGER, context_id_bin BLOB,
  context_user_id_bin BLOB, context_parent_id_bin BLOB,
  event_type_id INTEGER REFERENCES event_types(event_type_id)
);
CREATE TABLE recorder_runs (
  run_id INTEGER PRIMARY KEY, start DATETIME NOT NULL, "end" DATETIME,
  closed_incorrect BOOLEAN NOT NULL, created DATETIME NOT NULL
);
"""

Row = tuple[float, str, str, str | None, str | None, bool]


def _bin(value: str | None) -> bytes | None:
    return None if value is None else ulid_to_bytes(value)


def write_recorder_db(
    path: Path,
    rows: Sequence[Row],
    automation_runs: Sequence[tuple[float, str]] = (),
    starts: Sequence[tuple[float, float | None]] = (),
) -> Path:
    """rows: (ts, entity_id, state, context_id, parent_id, attribute_only); starts: (recorder
    run start, `homeassistant_started` or None) per Home Assistant start."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    meta: dict[str, int] = {}
    last_changed: dict[str, float] = {}
    for ts, entity_id, state, ctx, parent, attribute_only in rows:
        if entity_id not in meta:
            meta[entity_id] = len(meta) + 1
            conn.execute("INSERT INTO states_meta VALUES (?, ?)", (meta[entity_id], entity_id))
        if not attribute_only:
            last_changed[entity_id] = ts
        changed = last_changed.get(entity_id, ts)
        conn.execute(
            "INSERT INTO states (state, last_changed_ts, last_updated_ts, metadata_id,"
            " context_id_bin, context_parent_id_bin) VALUES (?, ?, ?, ?, ?, ?)",
            # HA stores last_changed_ts as NULL when it equals last_updated_ts.
            (
                state,
                None if changed == ts else changed,
                ts,
                meta[entity_id],
                _bin(ctx),
                _bin(parent),
            ),
        )
    conn.execute("INSERT INTO event_types VALUES (1, 'automation_triggered')")
    conn.execute("INSERT INTO event_types VALUES (2, 'call_service')")
    conn.execute("INSERT INTO event_types VALUES (3, 'homeassistant_started')")
    for ts, ctx in automation_runs:
        conn.execute(
            "INSERT INTO events (time_fired_ts, context_id_bin, event_type_id) VALUES (?, ?, 1)",
            (ts, _bin(ctx)),
        )
    for run_start, started in starts:
        # As SQLite holds HA's DATETIME columns: naive UTC text.
        text = datetime.fromtimestamp(run_start, UTC).replace(tzinfo=None).isoformat(" ")
        conn.execute(
            "INSERT INTO recorder_runs (start, closed_incorrect, created) VALUES (?, 0, ?)",
            (text, text),
        )
        if started is not None:
            conn.execute(
                "INSERT INTO events (time_fired_ts, event_type_id) VALUES (?, 3)", (started,)
            )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def recorder_db(tmp_path: Path) -> Path:
    return tmp_path / "home-assistant_v2.db"
