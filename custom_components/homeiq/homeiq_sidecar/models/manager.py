"""ModelManager: lazy, locked, cache-first loading of the three roles, inference off the loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
import hashlib
import json
import logging
from pathlib import Path
import time
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .errors import ModelError, ModelLoadingError, ModelUnavailableError
from .names import DEFAULT_CATEGORIES, DEFAULT_MODELS, DEFAULT_PRIORITIES, PRECISIONS, ROLES
from .results import ClassifyResult
from .store import entry_dir, entry_size, read_manifest, sweep_stale

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")
FINGERPRINT_CHARS = 16  # 64 bits: tells model versions apart, and every cached result stores it


def fingerprint(manifest: Mapping[str, Any]) -> str:
    """Content fingerprint of a cache entry: a hash of the name, size and SHA-256 of every file
    its manifest lists (recorded at conversion, so no model file is read here).

    New weights, a new graph or a new tokenizer at the same path give a new fingerprint.
    """
    files = {
        name: [info.get("size"), info.get("sha256")] for name, info in manifest["files"].items()
    }
    text = json.dumps(files, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_CHARS]


# Over the memory budget, a model unused this long unloads. An analysis uses each model in one
# phase (embed, rerank, classify in turn), so this cannot make one analysis load a model twice.
BUDGET_SETTLE_S = 10.0

# Hints for Retry-After: a cached IR compiles in seconds, a conversion takes minutes.
RETRY_AFTER_CACHED_S = 2.0
RETRY_AFTER_CONVERT_S = 30.0


@dataclass
class _Slot:
    role: str
    source: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    runner: Any = None
    directory: Path | None = None
    manifest: dict[str, Any] | None = None
    loading: bool = False
    in_use: int = 0
    last_used: float = 0.0
    last_latency_ms: float | None = None
    error: str | None = None


class ModelManager:
    """Owns the embed, rerank and classify models of one sidecar process.

    ``models`` maps role -> hub id or local path (an HF checkpoint dir, an ONNX file, or an
    already converted cache entry); the operator sets it at startup, never a request.
    Nothing is read or loaded until a role is first used.
    """

    def __init__(
        self,
        *,
        cache_dir: Path,
        models: Mapping[str, str] | None = None,
        precision: str = "int8",
        idle_unload_s: float | None = 900.0,
        memory_budget_mb: float | None = None,
        allow_convert: bool = True,
        ov_config: Mapping[str, str] | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        unknown = set(models or {}) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown model roles: {sorted(unknown)}")
        sources = {**DEFAULT_MODELS, **(models or {})}
        self.cache_dir = Path(cache_dir)
        self.precision = precision
        self.idle_unload_s = idle_unload_s
        self.memory_budget_mb = memory_budget_mb
        self.allow_convert = allow_convert
        self._ov_config = dict(ov_config or {})
        self._slots = {role: _Slot(role, sources[role]) for role in ROLES}
        self._core: Any = None
        self._reaper: asyncio.Task[None] | None = None

    # -- public API -------------------------------------------------------------------

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """L2-normalised float32 embeddings, shape (len(texts), dim)."""
        items = list(texts)
        result: npt.NDArray[np.float32] = await self._run("embed", lambda r: r.embed(items))
        return result

    async def rerank(self, query: str, documents: Sequence[str]) -> npt.NDArray[np.float32]:
        """Relevance of each document to ``query`` in [0, 1], same order; higher = closer."""
        docs = list(documents)
        if not docs:
            return np.zeros(0, dtype=np.float32)
        result: npt.NDArray[np.float32] = await self._run("rerank", lambda r: r.rerank(query, docs))
        return result

    async def classify(
        self,
        texts: Sequence[str],
        *,
        categories: Sequence[str] = DEFAULT_CATEGORIES,
        priorities: Sequence[str] = DEFAULT_PRIORITIES,
    ) -> list[ClassifyResult]:
        """Category and priority per text, chosen by label likelihood under the seq2seq model."""
        items, cats, pris = list(texts), list(categories), list(priorities)
        for name, labels in (("categories", cats), ("priorities", pris)):
            if not labels or any(not isinstance(x, str) or not x.strip() for x in labels):
                raise ValueError(f"{name} must be a non-empty list of non-empty strings")
        if not items:
            return []
        result: list[ClassifyResult] = await self._run(
            "classify", lambda r: r.classify(items, cats, pris)
        )
        return result

    async def ensure_loaded(self, role: str, *, wait: bool = True) -> None:
        """Load ``role`` if needed. With ``wait=False`` a load in progress raises
        ModelLoadingError instead of waiting (the server answers 503 + Retry-After)."""
        slot = self._slots[role]
        if slot.runner is not None:
            return
        if not wait and slot.lock.locked():
            raise ModelLoadingError(
                f"The {role} model is loading; try again shortly.",
                retry_after=self._retry_after(slot),
            )
        async with slot.lock:
            if self._is_loaded(slot):  # another caller finished the load while we waited
                return
            slot.loading = True
            try:
                await asyncio.to_thread(self._load_sync, slot)
            finally:
                slot.loading = False
        self._start_reaper()

    def status(self) -> dict[str, dict[str, Any]]:
        """Per role: source, precision, quantization, quantization_checks, revision,
        fingerprint, size_bytes, loaded, loading, available, last_latency_ms, error.

        Model facts describe the model that answers the role's next call: the loaded one, or
        else the converted entry on disk the next load would use (read from its manifest, so
        nothing is loaded). ``revision`` is the hub revision the entry was converted from (None
        when unknown); ``fingerprint`` identifies the entry's files (see `fingerprint`) and is
        None while nothing is converted for the role.
        """
        out: dict[str, dict[str, Any]] = {}
        for role, slot in self._slots.items():
            manifest = slot.manifest if slot.runner is not None else self._cached_manifest(slot)
            out[role] = {
                "source": slot.source,
                "precision": manifest.get("precision", self.precision)
                if manifest
                else self.precision,
                # How the entry was made 8-bit, and static INT8's measured accuracy (store.py).
                "quantization": manifest.get("quantization") if manifest else None,
                "quantization_checks": manifest.get("quantization_checks", {}) if manifest else {},
                "revision": manifest.get("revision") if manifest else None,
                "fingerprint": fingerprint(manifest) if manifest else None,
                "size_bytes": entry_size(manifest) if manifest else None,
                "loaded": slot.runner is not None,
                "loading": slot.loading,
                "available": slot.runner is not None
                or manifest is not None
                or (self.allow_convert and slot.error is None),
                "last_latency_ms": slot.last_latency_ms,
                "error": slot.error,
            }
        return out

    def loaded_roles(self) -> list[str]:
        return [role for role, slot in self._slots.items() if slot.runner is not None]

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for slot in self._slots.values():
            async with slot.lock:
                slot.runner = None

    # -- loading ----------------------------------------------------------------------

    @staticmethod
    def _is_loaded(slot: _Slot) -> bool:
        return slot.runner is not None

    def _retry_after(self, slot: _Slot) -> float:
        cached = self._cached_manifest(slot) is not None
        return RETRY_AFTER_CACHED_S if cached else RETRY_AFTER_CONVERT_S

    def _local_entry(self, slot: _Slot) -> tuple[Path, dict[str, Any]] | None:
        """An operator-given path that already is a converted entry is used in place."""
        path = Path(slot.source).expanduser()
        if path.is_dir():
            manifest = read_manifest(path)
            if manifest is not None:
                return path, manifest
        return None

    def _cached_manifest(self, slot: _Slot) -> dict[str, Any] | None:
        local = self._local_entry(slot)
        if local is not None:
            return local[1]
        return read_manifest(entry_dir(self.cache_dir, slot.role, slot.source, self.precision))

    def _load_sync(self, slot: _Slot) -> None:
        """Find or make the cache entry, then compile it. Runs in a worker thread."""
        started = time.perf_counter()
        for stale in sweep_stale(self.cache_dir / slot.role):
            _LOGGER.info("Removed %s, left by an interrupted conversion", stale)
        try:
            directory, manifest = self._find_or_convert(slot)
            runner = self._make_runner(slot.role, directory, manifest)
        except ModelError as err:
            slot.error = err.message
            raise
        except Exception as err:
            slot.error = f"Loading the {slot.role} model failed: {type(err).__name__}: {err}"
            _LOGGER.exception("Loading %s from %s failed", slot.role, slot.source)
            raise ModelUnavailableError(slot.error) from err
        # The manifest before the runner: status() reads the manifest of a loaded runner.
        slot.directory, slot.manifest, slot.error = directory, manifest, None
        slot.last_used = time.monotonic()
        slot.runner = runner
        _LOGGER.info(
            "Loaded %s (%s, %s) in %.1f s",
            slot.role,
            slot.source,
            manifest.get("precision"),
            time.perf_counter() - started,
        )

    def _find_or_convert(self, slot: _Slot) -> tuple[Path, dict[str, Any]]:
        local = self._local_entry(slot)
        if local is not None:
            if local[1].get("role") != slot.role:
                raise ModelUnavailableError(
                    f"The cache entry {local[0].name} holds a {local[1].get('role')} model, "
                    f"not a {slot.role} model."
                )
            return local
        target = entry_dir(self.cache_dir, slot.role, slot.source, self.precision)
        manifest = read_manifest(target)
        if manifest is not None:
            return target, manifest
        if not self.allow_convert:
            raise ModelUnavailableError(
                f"The {slot.role} model {slot.source} is not in the model cache ({self.cache_dir}) "
                "and conversion is off: run scripts/download-models first."
            )
        from .convert import convert  # conversion tooling is imported only when converting

        return target, convert(slot.role, slot.source, target, precision=self.precision)

    def _make_runner(self, role: str, directory: Path, manifest: dict[str, Any]) -> Any:
        from . import runners  # OpenVINO is imported on first load, not at sidecar start

        if self._core is None:
            import openvino as ov

            self._core = ov.Core()
        # Embed and rerank run several batches per call: one single-threaded stream per core
        # runs them side by side. Measured on 2 cores: embed 1000 texts ~10 % faster; rerank 100
        # pairs as fast on an idle machine and 1.7x faster with another process busy on one
        # core (the one-stream LATENCY default splits every operator over both cores, so each
        # waits for the busy one). The caller's settings win.
        streams = {"PERFORMANCE_HINT": "THROUGHPUT", **self._ov_config}
        if role == "embed":
            return runners.EmbedRunner(self._core, directory, streams)
        if role == "rerank":
            return runners.RerankRunner(self._core, directory, streams)
        return runners.ClassifyRunner(
            self._core, directory, self._ov_config, manifest.get("params", {})
        )

    # -- inference --------------------------------------------------------------------

    @asynccontextmanager
    async def _use(self, role: str) -> AsyncIterator[Any]:
        slot = self._slots[role]
        await self.ensure_loaded(role)
        slot.in_use += 1  # the reaper never unloads a model that is running
        try:
            yield slot.runner
        finally:
            slot.in_use -= 1
            slot.last_used = time.monotonic()

    async def _run(self, role: str, work: Callable[[Any], _T]) -> _T:
        async with self._use(role) as runner:
            started = time.perf_counter()
            result = await asyncio.to_thread(work, runner)
            self._slots[role].last_latency_ms = (time.perf_counter() - started) * 1000.0
            return result

    # -- idle unload ------------------------------------------------------------------

    def _start_reaper(self) -> None:
        limits = (self.idle_unload_s, self.memory_budget_mb)
        if limits == (None, None) or (self._reaper is not None and not self._reaper.done()):
            return
        self._reaper = asyncio.get_running_loop().create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        waits = [w for w in (self.idle_unload_s, BUDGET_SETTLE_S) if w is not None]
        interval = max(0.05, min(min(waits) / 4, 30.0))
        while True:
            await asyncio.sleep(interval)
            if all(slot.runner is None for slot in self._slots.values()):
                continue  # nothing to unload: not even a look at /proc
            # Over the memory budget, models idle for BUDGET_SETTLE_S unload too: each input
            # shape a model meets keeps memory in OpenVINO's CPU plugin (the reranker ~4 MiB),
            # which only unloading gives back; the next use compiles from the cache in ~1 s.
            over = self._over_budget()
            limit = BUDGET_SETTLE_S if over else self.idle_unload_s
            now = time.monotonic()
            for slot in self._slots.values():
                if limit is not None and now - slot.last_used >= limit:
                    await self._unload(slot, "over the memory budget" if over else "idle")

    async def trim_to_budget(self) -> list[str]:
        """Over the memory budget, unload every model not in use now; the roles unloaded.

        Called when an analysis ends: it used each model in one phase, so none is needed again
        until the next request. Analyses back to back never leave a model idle for
        BUDGET_SETTLE_S, and the reranker's memory per input shape kept growing past the budget
        (1,085 MiB over 522 new homes); now it is given back as soon as it is over."""
        if not self._over_budget():
            return []
        return [
            slot.role
            for slot in self._slots.values()
            if await self._unload(slot, "over the memory budget")
        ]

    def _over_budget(self) -> bool:
        return self.memory_budget_mb is not None and _rss_mb() > self.memory_budget_mb

    async def _unload(self, slot: _Slot, why: str) -> bool:
        if slot.runner is None or slot.in_use:
            return False
        async with slot.lock:
            if slot.runner is None or slot.in_use:
                return False
            slot.runner = None
        idle = time.monotonic() - slot.last_used
        _LOGGER.info("Unloaded %s after %.0f s idle (%s)", slot.role, idle, why)
        return True


def _rss_mb() -> float:
    """This process's resident memory in MiB (0 where /proc cannot tell: never over)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
