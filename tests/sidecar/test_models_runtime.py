"""The runtime path (load cached IR, tokenize, infer) imports no torch, optimum or transformers."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess

import pytest

from tests.export.tiny_models import (
    RUNTIME_PYTHON,
    cached_entry,
    ensure_tiny_models,
    env_with_pythonpath,
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
