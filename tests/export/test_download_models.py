"""scripts/download-models: converts local sources, says clearly when the hub is unreachable."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess

from homeiq_sidecar.models.irinfo import ir_is_int8
from homeiq_sidecar.models.store import entry_dir, read_manifest
from tests.export.tiny_models import ROOT, ensure_tiny_models

SCRIPT = ROOT / "scripts" / "download-models"


def test_offline_says_so(tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [str(SCRIPT), "--cache", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "offline" in out.stderr
    assert not list(tmp_path.iterdir())


def test_local_sources_are_converted_once(tmp_path: Path) -> None:
    hf = ensure_tiny_models() / "hf"
    args = [str(SCRIPT), "--cache", str(tmp_path)]
    for role in ("embed", "rerank", "classify"):
        args += [f"--{role}", str(hf / role)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert first.stdout.count("ready:") == 3
    for role in ("embed", "rerank", "classify"):
        entry = entry_dir(tmp_path, role, str(hf / role), "int8")
        assert read_manifest(entry, verify_hashes=True) is not None
        xml = "openvino_decoder_model.xml" if role == "classify" else "openvino_model.xml"
        assert ir_is_int8(entry / xml)
    again = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    assert "converting" not in again.stdout  # cached: nothing redone
