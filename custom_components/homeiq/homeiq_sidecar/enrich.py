"""Enrichment of mined patterns: embeddings -> top-k by cosine -> rerank -> best 10 -> classify.

Every model result is looked up in the on-disk TextCache first, and a model is asked (and so
loaded) only for the texts it has not seen: a re-run over an unchanged home does no model work.
Results are stored under the key of the model that computed them (see `model_key`), read after
its first answer: a model converted or reloaded during the run gets its own key.
When a model cannot be had, the step falls back to something honest and `models` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import json
import logging
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from .cache import TextCache
from .domain_rules import category_from_entities, priority_for_category
from .models import ClassifyResult, ModelError
from .pattern_text import pattern_text
from .similarity import top_k_by_cosine

_LOGGER = logging.getLogger(__name__)

DEFAULT_CATEGORIES = ("energy", "comfort", "security", "convenience", "maintenance")
DEFAULT_PRIORITIES = ("high", "medium", "low")
TOP_K = 100
KEEP = 10
EMBED_BATCH = 256
CLASSIFY_BATCH = 32

UNAVAILABLE_EMBED = "unavailable: no similar patterns"
UNAVAILABLE_RERANK = "unavailable: ranked by embedding similarity"
SKIPPED_RERANK = "not run: no embeddings to choose candidates"
UNAVAILABLE_CLASSIFY = "unavailable: category from entity domain"


class ModelBackend(Protocol):
    """What enrichment needs of the ModelManager."""

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    async def rerank(self, query: str, documents: Sequence[str]) -> npt.NDArray[np.float32]: ...

    async def classify(
        self,
        texts: Sequence[str],
        *,
        categories: Sequence[str],
        priorities: Sequence[str],
    ) -> list[ClassifyResult]: ...

    def status(self) -> Mapping[str, Mapping[str, Any]]:
        """Per role at least source and precision; for the cache keys also ``revision`` and
        ``fingerprint`` of the model that answers the next call (see ModelManager.status)."""
        ...


@dataclass(kw_only=True)
class StepCounts:
    """How many results came from the cache and how many a model computed."""

    cached: int = 0
    computed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"cached": self.cached, "computed": self.computed}


@dataclass(kw_only=True)
class EnrichResult:
    """Patterns with category, priority and similar; honest model strings; cache figures."""

    patterns: list[dict[str, Any]]
    models: dict[str, str]
    cache: dict[str, dict[str, int]] = field(default_factory=dict)


def model_key(backend: ModelBackend, role: str) -> str | None:
    """Cache namespace of a role's model: source, precision, revision (when known) and the
    fingerprint of its converted files, so results of another model, precision or conversion
    are never reused.

    The backend knows all of these without loading the model (from the entry's manifest).
    None while it cannot say which files will answer (nothing converted yet): then nothing is
    read from the cache, and results are stored under the key read after the model answered.
    """
    info = backend.status().get(role, {})
    if not info.get("fingerprint"):
        return None
    parts = [str(info.get("source", role)), str(info.get("precision", "?"))]
    if info.get("revision"):
        parts.append(f"rev={info['revision']}")
    parts.append(f"fp={info['fingerprint']}")
    return "|".join(parts)


def model_label(backend: ModelBackend, role: str) -> str:
    """Human-readable 'source (precision)' for the summary."""
    info = backend.status().get(role, {})
    return f"{info.get('source', role)} ({info.get('precision', '?')})"


def pattern_entities(pattern: Mapping[str, Any]) -> list[str]:
    """Entity ids a pattern involves (the miner's `steps`, or an `entities` list)."""
    entities = pattern.get("entities")
    if isinstance(entities, list):
        return [str(e) for e in entities]
    steps = pattern.get("steps")
    if isinstance(steps, list):
        return [
            str(step["entity_id"])
            for step in steps
            if isinstance(step, Mapping) and "entity_id" in step
        ]
    return []


_T = TypeVar("_T")


async def _from_cache(
    get: Callable[[str, list[str]], dict[str, _T]],
    key: str | None,
    texts: Sequence[str],
    counts: StepCounts,
) -> tuple[dict[str, _T], list[str]]:
    """What the cache knows of the distinct texts, and the texts it does not know."""
    unique = list(dict.fromkeys(texts))
    known = await asyncio.to_thread(get, key, unique) if key is not None else {}
    missing = [t for t in unique if t not in known]
    counts.cached += len(unique) - len(missing)
    return known, missing


async def _embed_texts(
    backend: ModelBackend, cache: TextCache, texts: list[str], counts: StepCounts
) -> npt.NDArray[np.float32]:
    known, missing = await _from_cache(
        cache.get_embeddings, model_key(backend, "embed"), texts, counts
    )
    answered: str | None = None
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        vectors = np.asarray(await backend.embed(batch), dtype=np.float32)
        answered = answered or model_key(backend, "embed")
        if answered is not None:
            await asyncio.to_thread(cache.put_embeddings, answered, batch, vectors)
        known.update(zip(batch, vectors, strict=True))
        counts.computed += len(batch)
    return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


async def _rerank_candidates(
    backend: ModelBackend,
    cache: TextCache,
    texts: list[str],
    candidates: npt.NDArray[np.int64],
    counts: StepCounts,
) -> list[npt.NDArray[np.float32]]:
    """Reranker score of every (pattern, candidate) pair, by pattern."""
    key = model_key(backend, "rerank")
    pairs = list(
        dict.fromkeys((texts[i], texts[int(j)]) for i in range(len(texts)) for j in candidates[i])
    )
    known = await asyncio.to_thread(cache.get_pair_scores, key, pairs) if key is not None else {}
    counts.cached += len(known)
    by_query: dict[str, list[str]] = {}
    for query, doc in pairs:
        if (query, doc) not in known:
            by_query.setdefault(query, []).append(doc)
    answered: str | None = None
    for query, docs in by_query.items():
        scores = np.asarray(await backend.rerank(query, docs), dtype=np.float32)
        fresh = {(query, doc): float(s) for doc, s in zip(docs, scores, strict=True)}
        answered = answered or model_key(backend, "rerank")
        if answered is not None:
            await asyncio.to_thread(cache.put_pair_scores, answered, fresh)
        known.update(fresh)
        counts.computed += len(docs)
    return [
        np.array([known[(texts[i], texts[int(j)])] for j in candidates[i]], dtype=np.float32)
        for i in range(len(texts))
    ]


def _result_to_dict(result: ClassifyResult) -> dict[str, Any]:
    return {
        "category": {
            "label": result.category,
            "confidence": float(result.category_confidence),
            "scores": {k: float(v) for k, v in result.category_scores.items()},
        },
        "priority": {
            "label": result.priority,
            "confidence": float(result.priority_confidence),
            "scores": {k: float(v) for k, v in result.priority_scores.items()},
        },
    }


def _classify_key(
    backend: ModelBackend, categories: Sequence[str], priorities: Sequence[str]
) -> str | None:
    """The label lists are part of the key: the same text scored against other labels differs.

    JSON, not a joined string: labels may hold commas, and ["a,b", "c"] is not ["a", "b,c"].
    """
    key = model_key(backend, "classify")
    labels = json.dumps([list(categories), list(priorities)], ensure_ascii=False)
    return None if key is None else f"{key}|{labels}"


async def classify_cached(
    backend: ModelBackend,
    cache: TextCache,
    texts: Sequence[str],
    *,
    categories: Sequence[str],
    priorities: Sequence[str],
    counts: StepCounts | None = None,
) -> list[dict[str, Any]]:
    """Classification results (API shape) by text, through the cache."""
    counts = counts if counts is not None else StepCounts()
    known, missing = await _from_cache(
        cache.get_classifications, _classify_key(backend, categories, priorities), texts, counts
    )
    answered: str | None = None
    for start in range(0, len(missing), CLASSIFY_BATCH):
        batch = missing[start : start + CLASSIFY_BATCH]
        results = await backend.classify(batch, categories=categories, priorities=priorities)
        fresh = {t: _result_to_dict(r) for t, r in zip(batch, results, strict=True)}
        answered = answered or _classify_key(backend, categories, priorities)
        if answered is not None:
            await asyncio.to_thread(cache.put_classifications, answered, fresh)
        known.update(fresh)
        counts.computed += len(batch)
    return [known[t] for t in texts]


async def enrich_patterns(
    patterns: Sequence[Mapping[str, Any]],
    *,
    backend: ModelBackend,
    cache: TextCache,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    priorities: Sequence[str] = DEFAULT_PRIORITIES,
    top_k: int = TOP_K,
    keep: int = KEEP,
) -> EnrichResult:
    """Add `category`, `priority` and `similar` to each pattern (copies; input untouched)."""
    out = [dict(p) for p in patterns]
    texts = [pattern_text(p) for p in out]
    ids = [str(p.get("id", i)) for i, p in enumerate(out)]
    models: dict[str, str] = {}
    counts = {role: StepCounts() for role in ("embed", "rerank", "classify")}

    # Similar patterns ---------------------------------------------------------------------
    similar: list[list[dict[str, Any]]] = [[] for _ in out]
    vectors: npt.NDArray[np.float32] | None = None
    if out:
        try:
            vectors = await _embed_texts(backend, cache, texts, counts["embed"])
            models["embed"] = model_label(backend, "embed")
        except ModelError as err:  # unavailable here, or failed: fall back, say so
            _LOGGER.warning("Embedding model unavailable: %s", err)
            models["embed"] = UNAVAILABLE_EMBED
    else:
        models["embed"] = "not run: no patterns"

    if vectors is not None:
        candidates, cosines = await asyncio.to_thread(top_k_by_cosine, vectors, top_k)
        rerank_scores: list[npt.NDArray[np.float32]] | None = None
        if candidates.shape[1] > 0:
            try:
                rerank_scores = await _rerank_candidates(
                    backend, cache, texts, candidates, counts["rerank"]
                )
                models["rerank"] = model_label(backend, "rerank")
            except ModelError as err:  # unavailable here, or failed: fall back, say so
                _LOGGER.warning("Reranker unavailable: %s", err)
                models["rerank"] = UNAVAILABLE_RERANK
        else:
            models["rerank"] = "not run: fewer than two patterns"
        for i in range(len(out)):
            scores = rerank_scores[i] if rerank_scores is not None else cosines[i]
            order = np.argsort(-scores, kind="stable")[:keep]
            similar[i] = [
                {"id": ids[int(candidates[i][j])], "score": round(float(scores[j]), 6)}
                for j in order
            ]
    else:
        models["rerank"] = SKIPPED_RERANK if out else "not run: no patterns"

    # Category and priority ----------------------------------------------------------------
    classified: list[dict[str, Any]] | None = None
    if out:
        try:
            classified = await classify_cached(
                backend,
                cache,
                texts,
                categories=categories,
                priorities=priorities,
                counts=counts["classify"],
            )
            models["classify"] = model_label(backend, "classify")
        except ModelError as err:  # unavailable here, or failed: fall back, say so
            _LOGGER.warning("Classifier unavailable: %s", err)
            models["classify"] = UNAVAILABLE_CLASSIFY
    else:
        models["classify"] = "not run: no patterns"

    for i, pattern in enumerate(out):
        pattern["similar"] = similar[i]
        if classified is not None:
            pattern["category"] = classified[i]["category"]["label"]
            pattern["priority"] = classified[i]["priority"]["label"]
            pattern["category_confidence"] = classified[i]["category"]["confidence"]
            pattern["priority_confidence"] = classified[i]["priority"]["confidence"]
        else:
            category = category_from_entities(pattern_entities(pattern), categories)
            pattern["category"] = category
            pattern["priority"] = priority_for_category(category, priorities)

    return EnrichResult(
        patterns=out,
        models=models,
        cache={role: c.as_dict() for role, c in counts.items()},
    )
