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
    # Static INT8 rounds activations too, and this random model's activations are far wider than
    # a trained one's: the realistic bar is test_static_int8_cross_encoder_on_trained_weights.
    assert np.max(np.abs(scores - expected)) < 0.2, (scores, expected)
    assert int(np.argmax(scores)) == int(np.argmax(expected))


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
    # The pipeline (prompt, label scoring in the graph, softmax) is exact at fp32 ...
    fp32 = ModelManager(
        cache_dir=tmp_path, models={"classify": str(hf)}, precision="fp32", ov_config=F32
    )
    (exact,) = await fp32.classify([text], priorities=DEFAULT_PRIORITIES)
    await fp32.close()
    exact_scores = np.array([exact.category_scores[c] for c in DEFAULT_CATEGORIES])
    np.testing.assert_allclose(exact_scores, expected, atol=1e-4)
    # ... and 8-bit weights stay close.
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


PAIRS_QUERY = "light.kitchen_1 turns on about 40 s after binary_sensor.kitchen_motion turns on."
PAIRS_DOCS = [
    "The kitchen light turns on within a minute after motion in the kitchen.",
    "light.kitchen_2 turns on about 1 s after binary_sensor.kitchen_motion turns on.",
    "The hallway light turns off at 23:30 on weekdays.",
    "lock.front_door locks at about 22:45.",
    "The bedroom blinds open around 07:10 at weekends.",
    "switch.garage_fan turns off about 12 min after binary_sensor.garage_door opens.",
    "The coffee machine turns on at 06:50 on weekdays.",
    "climate.living_room switches to heat at about 17:30 every day.",
]


async def test_static_int8_cross_encoder_on_trained_weights(tmp_path: Path) -> None:
    """Static INT8 on trained activations: a cross-encoder on the real all-MiniLM-L6-v2 encoder
    (its head is random and seeded; the encoder's activation ranges are the trained ones) stays
    within 0.05 of torch FP32 and keeps the order of the clearly separated scores."""
    from tests.export.build_tiny_models import minilm_dir

    source = tmp_path / "minilm-cross-encoder"
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        minilm_dir(), num_labels=1
    ).eval()
    model.save_pretrained(source)
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_dir())
    tokenizer.save_pretrained(source)
    batch = tokenizer(
        [PAIRS_QUERY] * len(PAIRS_DOCS), PAIRS_DOCS, padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        expected = torch.sigmoid(model(**batch).logits[:, 0]).numpy()

    manager = ModelManager(cache_dir=tmp_path / "cache", models={"rerank": str(source)})
    scores = await manager.rerank(PAIRS_QUERY, PAIRS_DOCS)
    await manager.close()
    manifest = read_manifest(entry_dir(tmp_path / "cache", "rerank", str(source), "int8"))
    assert manifest is not None
    assert manifest["quantization"] == "static-int8"
    assert np.max(np.abs(scores - expected)) < 0.05, (scores, expected)
    # Pairs torch separates by more than the tolerance keep their order.
    for i in range(len(PAIRS_DOCS)):
        for j in range(len(PAIRS_DOCS)):
            if expected[i] - expected[j] > 0.1:
                assert scores[i] > scores[j], (i, j, scores, expected)
