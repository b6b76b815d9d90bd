"""scripts/analyze end to end: table, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
from datetime import date
import json
from pathlib import Path
import subprocess
import sys

from homeiq_miner import Location
from homeiq_miner.synth import make_home, sunset_home

from .conftest import write_recorder_db

ROOT = Path(__file__).resolve().parents[2]
ANALYZE = ROOT / "scripts" / "analyze"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ANALYZE), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _write_home_csv(path: Path) -> None:
    home = make_home(5, days=28, rooms=1)
    with path.open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["timestamp", "entity_id", "state", "context_id", "context_parent_id"])
        for e in home.events():
            w.writerow(
                [f"{e.ts:.3f}", e.entity_id, e.state, e.context_id or "", e.context_parent_id or ""]
            )


def test_csv_table_and_json(tmp_path: Path) -> None:
    src = tmp_path / "home.csv"
    _write_home_csv(src)
    out = tmp_path / "p.json"
    proc = _run(str(src), "--time-zone", "Europe/Amsterdam", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:2] == ["type", "description"]
    patterns = json.loads(out.read_text())["patterns"]
    assert {p["type"] for p in patterns} == {"time_of_day", "trigger_action", "sequence"}
    again = tmp_path / "q.json"
    assert _run(str(src), "--time-zone", "Europe/Amsterdam", "--json", str(again)).returncode == 0
    assert [p["id"] for p in json.loads(again.read_text())["patterns"]] == [
        p["id"] for p in patterns
    ]
    short = tmp_path / "s.json"
    assert (
        _run(
            str(src), "--time-zone", "Europe/Amsterdam", "--days", "7", "--json", str(short)
        ).returncode
        == 0
    )
    assert max(p["days_seen"] for p in json.loads(short.read_text())["patterns"]) <= 8


def test_recorder_db_source(tmp_path: Path) -> None:
    db = tmp_path / "home-assistant_v2.db"
    rows = []
    for day in range(14):
        for n in range(3):
            t = 1_700_000_000 + day * 86400 + n * 14000
            rows.append((t, "binary_sensor.door", "on", None, None, False))
            rows.append((t + 30, "binary_sensor.door", "off", None, None, False))
            rows.append((t + 5, "light.hall", "on", None, None, False))
            rows.append((t + 6, "light.hall", "on", None, None, True))
            rows.append((t + 900, "light.hall", "off", None, None, False))
    rows.sort()
    write_recorder_db(db, rows)
    out = tmp_path / "p.json"
    proc = _run(str(db), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    steps = [[s["entity_id"] for s in p["steps"]] for p in json.loads(out.read_text())["patterns"]]
    assert ["binary_sensor.door", "light.hall"] in steps


def test_bad_inputs_one_line_exit_2(tmp_path: Path) -> None:
    bad_time = tmp_path / "t.csv"
    bad_time.write_text("timestamp_iso,entity_id,state\nnot-a-time,light.a,on\n")
    bad_cols = tmp_path / "c.csv"
    bad_cols.write_text("a,b,c\n1,2,3\n")
    corrupt = tmp_path / "x.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    # Out of range: a unit mistake (milliseconds) must not allocate a grid over millennia.
    far = []
    for i, stamp in enumerate(("1637000000000", "1e300", "-1e12", "inf")):
        far.append(tmp_path / f"far{i}.csv")
        far[-1].write_text(
            f"timestamp,entity_id,state\n1637000000,light.a,off\n{stamp},light.a,on\n"
        )
    far.append(tmp_path / "far_iso.csv")
    far[-1].write_text("timestamp_iso,entity_id,state\n9999-12-31T23:00:00+00:00,light.a,on\n")
    for args in (
        [str(tmp_path / "missing.csv")],
        [str(bad_time)],
        [str(bad_cols)],
        [str(corrupt)],
        [str(bad_cols), "--time-zone", "Nowhere/Land"],
        *([str(f)] for f in far),
        [str(bad_cols), "--days", "nan"],
        [str(bad_cols), "--latitude", "52"],
        [str(bad_cols), "--latitude", "95", "--longitude", "4"],
        [str(bad_cols), "--latitude", "nan", "--longitude", "4"],
    ):
        proc = _run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("analyze: error:")


def test_module_entry_point_runs_without_homeassistant() -> None:
    code = "import homeiq_miner, sys; assert 'homeassistant' not in sys.modules and 'openvino' not in sys.modules"
    env_path = str(ROOT / "custom_components" / "homeiq")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": env_path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_location_finds_sun_habits(tmp_path: Path) -> None:
    src = tmp_path / "sun.csv"
    rows = sunset_home(Location(52.37, 4.89), time_zone="Europe/Amsterdam", start=date(2024, 9, 1))
    src.write_text(
        "timestamp,entity_id,state\n" + "".join(f"{e.ts},{e.entity_id},{e.state}\n" for e in rows)
    )
    out = tmp_path / "p.json"
    where = ["--latitude", "52.37", "--longitude", "4.89"]
    proc = _run(str(src), "--time-zone", "Europe/Amsterdam", *where, "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "after sunset" in proc.stdout
    suns = [p["sun"] for p in json.loads(out.read_text())["patterns"] if p["sun"]]
    assert [s["event"] for s in suns] == ["sunset"]
