"""`/v1/analyze`: validate, mine in a worker thread, enrich, summarise."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import dataclasses
import time
from typing import Any

import homeiq_miner

from .cache import TextCache
from .enrich import (
    DEFAULT_CATEGORIES,
    DEFAULT_PRIORITIES,
    KEEP,
    TOP_K,
    ModelBackend,
    enrich_patterns,
)
from .errors import ApiError
from .schemas import ANALYZE_SCHEMA, EventRowError, events_from_rows, validate


def _jsonable(value: Any) -> Any:
    """Miner statistics as plain JSON (dataclasses, tuples, numpy scalars)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "_asdict"):
        return _jsonable(value._asdict())
    return str(value)


def _mine(
    request: dict[str, Any], config: homeiq_miner.MinerConfig
) -> tuple[int, homeiq_miner.MiningResult]:
    events = events_from_rows(request["events"])
    # The parsed JSON rows can take gigabytes for a large home; the events replace them.
    request["events"].clear()
    return len(events), homeiq_miner.mine(
        events,
        time_zone=request["time_zone"],
        config=config,
        automation_context_ids=request["automation_context_ids"],
        names=request["names"],
        restarts=homeiq_miner.Restarts(**request["restarts"]),
        groups=request["groups"],
        location=homeiq_miner.Location(**request["location"]) if request["location"] else None,
    )


async def run_analysis(data: Any, *, backend: ModelBackend, cache: TextCache) -> dict[str, Any]:
    """The whole /v1/analyze job; raises ApiError(400) for bad input."""
    started = time.monotonic()
    request = validate(ANALYZE_SCHEMA, data)
    options = request["options"]
    miner_options = {k: options[k] for k in ("min_confidence", "max_patterns") if k in options}
    config = dataclasses.replace(homeiq_miner.MinerConfig(), **miner_options)
    try:
        # Conversion and mining are CPU-bound Python: a worker thread keeps /health answering.
        n_events, mined = await asyncio.to_thread(_mine, request, config)
    except (EventRowError, homeiq_miner.InputError) as err:
        raise ApiError(400, "invalid_request", str(err)) from err
    mined_at = time.monotonic()
    patterns = mined.patterns

    enriched = await enrich_patterns(
        patterns,
        backend=backend,
        cache=cache,
        categories=options.get("categories", DEFAULT_CATEGORIES),
        priorities=options.get("priorities", DEFAULT_PRIORITIES),
        top_k=options.get("top_k", TOP_K),
        keep=options.get("similar", KEEP),
    )
    finished = time.monotonic()
    return {
        "patterns": enriched.patterns,
        "summary": {
            "events": n_events,
            "patterns": len(enriched.patterns),
            "duration_s": round(finished - started, 4),
            "mining_s": round(mined_at - started, 4),
            "enrich_s": round(finished - mined_at, 4),
            "models": enriched.models,
            "cache": enriched.cache,
            "miner": _jsonable(mined.stats),
        },
    }
