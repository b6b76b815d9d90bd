"""Export venv: the torch route converts, and INT8 OpenVINO agrees with torch FP32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from homeiq_sidecar.models import DEFAULT_CATEGORIES, DEFAULT_PRIORITIES, ModelManager
from homeiq_sidecar.models.irinfo import ir_is_int8
from homeiq_sidecar.models.runners import CATEGORY_PROMPT
from homeiq_sidecar.models.store import entry_dir, read_manifest
from tests.export.tiny_models import cached_entry, ensure_tiny_models

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.export

DOCS = [
    "the kitchen light turns on at 07:00",
    "the front door locks at 23:00 every night",
    "heating turns off when a window opens",
    "the washing machine finishes and the dryer starts within ten minutes",
]
F32 = {"INFERENCE_PRECISION_HINT": "f32"}


@pytest.fixture(scope="module")
def built() -> Path:
    return ensure_tiny_models()


async def test_torch_route_converts_a_checkpoint(built: Path, tmp_path: Path) -> None:
    source = str(built / "hf" / "rerank")
    manager = ModelManager(cache_dir=tmp_path, models={"rerank": source})
    scores = await manager.rerank("kitchen light", DOCS)
    await manager.close()
    entry = entry_dir(tmp_path, "rerank", source, "int8")
    manifest = read_manifest(entry, verify_hashes=True)
    assert manifest is not None
    assert manifest["route"] == "optimum-intel"
    assert ir_is_int8(entry / "openvino_model.xml")
    assert scores.shape == (len(DOCS),)


async def test_rerank_int8_matches_torch_fp32(built: Path, tmp_path: Path) -> None:
    hf = built / "hf" / "rerank"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(hf))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(hf)).eval()
    batch = tokenizer(["kitchen light"] * len(DOCS), DOCS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.sigmoid(model(**batch).logits[:, 0]).numpy()
    # The pipeline (tokenizer IR, pairing, padding, sigmoid) is exact at fp32 ...
    fp32 = ModelManager(
        cache_dir=tmp_path, models={"rerank": str(hf)}, precision="fp32", ov_config=F32
    )
    exact = await fp32.rerank("kitchen light", DOCS)
    await fp32.close()
    np.testing.assert_allclose(exact, expected, atol=1e-4)
    # ... and 8-bit weights stay close. This tiny random model has an inflated init range, so
    # its int8 error is far larger than a trained model's (MiniLM: cosine >= 0.99).
    manager = ModelManager(
        cache_dir=tmp_path,
        models={"rerank": str(cached_entry(built / "cache", "rerank"))},
        ov_config=F32,
    )
    scores = await manager.rerank("kitchen light", DOCS)
    await manager.close()
    assert np.max(np.abs(scores - expected)) < 0.15, (scores, expected)


async def test_classify_int8_matches_torch_fp32(built: Path, tmp_path: Path) -> None:
    hf = built / "hf" / "classify"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(hf))
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(str(hf)).eval()
    text = DOCS[0]
    prompt = CATEGORY_PROMPT.format(options=", ".join(DEFAULT_CATEGORIES), text=text)
    encoded = tokenizer([prompt], return_tensors="pt")
    mean_log_probs = []
    for label in DEFAULT_CATEGORIES:
        target = tokenizer([label], return_tensors="pt").input_ids
        with torch.no_grad():
            logits = model(**encoded, labels=target).logits
        picked = torch.log_softmax(logits, -1)[0].gather(1, target[0][:, None])
        mean_log_probs.append(float(picked.mean()))
    expected = np.exp(np.array(mean_log_probs) - max(mean_log_probs))
    expected /= expected.sum()
    manager = ModelManager(
        cache_dir=tmp_path,
        models={"classify": str(cached_entry(built / "cache", "classify"))},
        ov_config=F32,
    )
    (result,) = await manager.classify([text], priorities=DEFAULT_PRIORITIES)
    await manager.close()
    got = np.array([result.category_scores[c] for c in DEFAULT_CATEGORIES])
    assert np.max(np.abs(got - expected)) < 0.05, (got, expected)
    assert result.category == DEFAULT_CATEGORIES[int(np.argmax(expected))]
