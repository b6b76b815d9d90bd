"""The runtime path (load cached IR, tokenize, infer) imports no torch, optimum or transformers."""

from __future__ import annotations

import json
from pathlib import Path
import signal
import subprocess

import pytest

from tests.export.tiny_models import (
    RUNTIME_PYTHON,
    cached_entry,
    ensure_tiny_models,
    env_with_pythonpath,
)
from tests.sidecar.server_fixtures import (
    TIME_ZONE,
    TOKEN,
    planted_home,
    post_json,
    run_sidecar,
    tiny_model_sources,
)

_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from homeiq_sidecar.models import ModelManager

async def main(models):
    manager = ModelManager(cache_dir=Path(sys.argv[2]), models=models, allow_convert=False)
    vectors = await manager.embed(["the kitchen light turns on at 07:00"])
    scores = await manager.rerank("kitchen light", ["the kitchen light turns on", "door locks"])
    labels = await manager.classify(["the kitchen light turns on at 07:00"])
    loaded = manager.loaded_roles()
    await manager.close()
    heavy = sorted(
        name for name in sys.modules
        if name.split(".")[0] in ("torch", "optimum", "transformers", "nncf", "sentence_transformers")
    )
    print(json.dumps({"loaded": loaded, "dim": vectors.shape[1], "scores": len(scores),
                      "category": labels[0].category, "heavy": heavy}))

asyncio.run(main(json.loads(sys.argv[1])))
"""


def test_runtime_path_is_torch_free(tmp_path: Path) -> None:
    built = ensure_tiny_models()
    models = {
        role: str(cached_entry(built / "cache", role)) for role in ("embed", "rerank", "classify")
    }
    if not RUNTIME_PYTHON.exists():
        pytest.skip("no runtime venv")
    out = subprocess.run(
        [str(RUNTIME_PYTHON), "-c", _SCRIPT, json.dumps(models), str(tmp_path)],
        env=env_with_pythonpath(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == ["embed", "rerank", "classify"]
    assert result["dim"] == 32
    assert result["scores"] == 2
    assert result["heavy"] == []


# Runs the sidecar's own entry point and, when it exits, writes the names of every module the
# process imported to the file named by its first argument: at exit, or in os._exit (which a
# shutdown that cuts work short uses, skipping atexit).
_MODULES_WRAPPER = """
import atexit, os, sys
out = sys.argv.pop(1)

def dump():
    with open(out, "w", encoding="utf-8") as f:
        f.write("\\n".join(sorted(list(sys.modules))) + "\\n")

def exit_now(code, _exit=os._exit):
    dump()
    _exit(code)

atexit.register(dump)
os._exit = exit_now
from homeiq_sidecar.__main__ import main
sys.exit(main())
"""
# Conversion-only packages: convert.py and quantize.py import them inside their functions
# (nncf for the INT8 compression), so serving converted models must never load them.
_CONVERSION_ONLY = ("torch", "optimum", "transformers", "sentence_transformers", "nncf")


def test_running_sidecar_is_torch_free(tmp_path: Path) -> None:
    """The real sidecar serving every model route: its process never imports the converters."""
    if not RUNTIME_PYTHON.exists():
        pytest.skip("no runtime venv")
    sources = tiny_model_sources()
    modules_file = tmp_path / "modules.txt"
    args = ["--port", "0", "--data-dir", str(tmp_path / "data"), "--token", TOKEN,
            "--no-convert", "--idle-unload", "0"]  # fmt: skip
    for role, source in sources.items():
        args += [f"--{role}-model", source]
    command = [str(RUNTIME_PYTHON), "-c", _MODULES_WRAPPER, str(modules_file)]
    with run_sidecar(args, command=command) as sidecar:
        status, _, body = post_json(sidecar.url + "/v1/embed", {"texts": ["kitchen light on"]})
        assert status == 200, body
        assert len(body["embeddings"]) == 1
        status, _, body = post_json(
            sidecar.url + "/v1/rerank",
            {"query": "light", "documents": ["kitchen light", "front door lock"]},
        )
        assert status == 200, body
        assert len(body["scores"]) == 2
        status, _, body = post_json(sidecar.url + "/v1/classify", {"texts": ["kitchen light at 7"]})
        assert status == 200, body
        assert len(body["results"]) == 1
        rows = planted_home()
        status, _, body = post_json(
            sidecar.url + "/v1/analyze", {"events": rows, "time_zone": TIME_ZONE}
        )
        assert status == 200, body
        assert body["patterns"]
        # Every model enriched the patterns (none fell back as unavailable).
        assert body["summary"]["models"] == {
            role: f"{source} (int8)" for role, source in sources.items()
        }
        sidecar.proc.send_signal(signal.SIGTERM)
        assert sidecar.proc.wait(timeout=30) == 0, sidecar.stderr()[-3000:]
        assert "Traceback" not in sidecar.stderr()
    assert modules_file.is_file(), "the sidecar exited without writing its modules"
    modules = set(modules_file.read_text(encoding="utf-8").split())
    # The models really ran in this process: OpenVINO and the runners were loaded.
    assert {"openvino", "homeiq_sidecar.models.runners"} <= modules
    heavy = sorted(name for name in modules if name.split(".")[0] in _CONVERSION_ONLY)
    assert heavy == []
