"""Readers: CSV and a recorder DB with HA's schema, streaming and read-only."""

from __future__ import annotations

from pathlib import Path
import sqlite3

import pytest

from homeiq_miner import Event, InputError
from homeiq_miner.readers import read_automation_context_ids, read_csv, read_recorder_db
from homeiq_miner.ulid import bytes_to_ulid, ulid_to_bytes

from .conftest import write_recorder_db

CTX = "01HZX3K9Q4T8V6N2M5R7W1Y0AB"
PARENT = "01HZX3K9Q4T8V6N2M5R7W1Y0AC"


def test_ulid_round_trip() -> None:
    assert bytes_to_ulid(ulid_to_bytes(CTX)) == CTX
    assert bytes_to_ulid(bytes(16)) == "0" * 26
    assert bytes_to_ulid(b"\xff" * 16) == "7" + "Z" * 25
    assert bytes_to_ulid(None) is None


def test_read_csv_iso_naive_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "timestamp_iso,entity_id,state,context_id,context_parent_id\n"
        "2024-01-01T08:00:00+00:00,light.a,on,c1,\n"
        "2024-01-01T09:00:00,light.a,off,c2,p2\n"
    )
    rows = list(read_csv(path, time_zone="Europe/Amsterdam"))
    assert rows[0] == Event(1704096000.0, "light.a", "on", "c1", None, None)
    # Naive time is local (UTC+1 in winter).
    assert rows[1].ts == 1704096000.0
    assert rows[1].context_parent_id == "p2"


def test_read_csv_unix_column(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("timestamp,entity_id,state\n100.5,light.a,on\n")
    assert next(read_csv(path)).ts == 100.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,entity_id,state\n1,light.a,on\n", "timestamp"),
        ("timestamp_iso,entity,state\n", "entity_id"),
        ("timestamp_iso,entity_id,state\nyesterday,light.a,on\n", "line 2"),
        ("timestamp_iso,entity_id,state\n2024-01-01T00:00:00\n", "columns"),
        ("", "empty"),
    ],
)
def test_read_csv_bad_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        list(read_csv(path))


def test_read_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot open"):
        list(read_csv(tmp_path / "nope.csv"))


def test_recorder_db_reads_changes_contexts_and_skips_attribute_updates(
    recorder_db: Path,
) -> None:
    write_recorder_db(
        recorder_db,
        [
            (1000.0, "light.a", "on", CTX, None, False),
            (1010.0, "light.a", "on", None, None, True),  # brightness changed only
            (1020.0, "binary_sensor.b", "on", None, PARENT, False),
            (1030.0, "light.a", "off", None, None, False),
        ],
        automation_runs=[(900.0, PARENT)],
    )
    rows = list(read_recorder_db(recorder_db, days=None))
    assert [(r.ts, r.entity_id, r.state) for r in rows] == [
        (1000.0, "light.a", "on"),
        (1020.0, "binary_sensor.b", "on"),
        (1030.0, "light.a", "off"),
    ]
    assert rows[0].context_id == CTX
    assert rows[1].context_parent_id == PARENT
    assert read_automation_context_ids(recorder_db) == {PARENT}
    only_b = list(read_recorder_db(recorder_db, days=None, entity_ids=["binary_sensor.b"]))
    assert [r.entity_id for r in only_b] == ["binary_sensor.b"]
    recent = list(read_recorder_db(recorder_db, days=10 / 86400, now=1035.0))
    assert [r.ts for r in recent] == [1030.0]


def test_recorder_db_read_only_while_writer_holds_a_transaction(recorder_db: Path) -> None:
    write_recorder_db(recorder_db, [(1000.0, "light.a", "on", None, None, False)])
    writer = sqlite3.connect(recorder_db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO states_meta VALUES (99, 'light.new')")
    try:
        rows = list(read_recorder_db(recorder_db, days=None))
    finally:
        writer.rollback()
        writer.close()
    assert len(rows) == 1
    # The reader could not have written: the URI is mode=ro.
    before = recorder_db.stat().st_mtime_ns
    list(read_recorder_db(recorder_db, days=None))
    assert recorder_db.stat().st_mtime_ns == before


def test_recorder_db_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x01" * 4000)
    with pytest.raises(InputError):
        list(read_recorder_db(junk, days=None))
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(InputError, match="recorder database"):
        list(read_recorder_db(empty, days=None))
    with pytest.raises(InputError, match="no such file"):
        list(read_recorder_db(tmp_path / "missing.db", days=None))
