"""One streaming pass from Event rows to numpy columns with interned entity/state codes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from .errors import MAX_TS, MIN_TS, time_range_error
from .model import USE_STATES, Event, MinerConfig, Restarts

_CHUNK = 65_536
_GRID_S = 900  # UTC offsets change on quarter hours in every zone HA knows


class _Interner(dict[tuple[str, str], int]):
    """Dict that hands out the next code for an unseen key (lookups stay in C)."""

    def __missing__(self, key: tuple[str, str]) -> int:
        code = len(self)
        self[key] = code
        return code


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(kw_only=True)
class EventTable:
    """State changes sorted by time; `key` codes an (entity, state) pair."""

    ts: npt.NDArray[np.float64]
    key: npt.NDArray[np.int32]
    manual: npt.NDArray[np.bool_]
    # hash of each row's context id (0: none): rows of one command (a scene, a group
    # following its member) share it. A hash, not interned text: most rows have their own
    # context, and a million distinct strings would cost more than the table.
    ctx: npt.NDArray[np.int64]
    local: npt.NDArray[np.float64]  # local wall-clock seconds since 1970-01-01
    key_entity: npt.NDArray[np.int32]  # entity code of each key
    entities: list[str]
    key_state: list[str]
    events_read: int
    startup_rows: int = 0  # rows written by a Home Assistant start-up (not changes)

    @property
    def n_keys(self) -> int:
        return len(self.key_state)

    @property
    def entity(self) -> npt.NDArray[np.int32]:
        return self.key_entity[self.key]

    def key_label(self, code: int) -> tuple[str, str]:
        return self.entities[int(self.key_entity[code])], self.key_state[code]


def local_seconds(ts: npt.NDArray[np.float64], zone: ZoneInfo) -> npt.NDArray[np.float64]:
    """Unix times to local wall-clock seconds, via a quarter-hour grid of UTC offsets.

    One zoneinfo call per grid point instead of per event keeps a year at ~35k calls.
    """
    if ts.size == 0:
        return ts.copy()
    cell = (ts // _GRID_S).astype(np.int64)
    # Only the quarter hours that hold events: a sparse or long span costs no more calls.
    cells, idx = np.unique(cell, return_inverse=True)
    offsets = np.empty(cells.size, dtype=np.float64)
    for i, c in enumerate(cells.tolist()):
        off = datetime.fromtimestamp(c * _GRID_S, zone).utcoffset()
        offsets[i] = off.total_seconds() if off is not None else 0.0
    return ts + offsets[idx]


def startup_windows(restarts: Restarts, grace_s: float) -> list[tuple[float, float]]:
    """[from, to] spans of start-up writes: each recorder run's start to `grace_s` after the
    first `homeassistant_started` before the next run (after the run start if HA never
    finished starting), merged and sorted."""
    starts = sorted(restarts.recorder_starts)
    started = np.sort(np.asarray(restarts.started, dtype=np.float64))
    windows: list[tuple[float, float]] = []
    for i, begin in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else math.inf
        j = int(np.searchsorted(started, begin, side="left"))
        done = float(started[j]) if j < started.size and started[j] < nxt else begin
        end = done + grace_s
        if windows and begin <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((begin, end))
    return windows


def _inside(
    ts: npt.NDArray[np.float64], windows: Sequence[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    if not windows:
        return np.zeros(ts.size, dtype=np.bool_)
    begins = np.fromiter((w[0] for w in windows), dtype=np.float64, count=len(windows))
    ends = np.fromiter((w[1] for w in windows), dtype=np.float64, count=len(windows))
    idx = np.searchsorted(begins, ts, side="right") - 1
    return (idx >= 0) & (ts <= ends[np.maximum(idx, 0)])


def _use_keys(
    key_entity: list[int], key_state: list[str], key_gap: list[bool], entities: list[str]
) -> npt.NDArray[np.int32]:
    """Key code -> the code to mine it as: a scene's or button's every use (a new time as
    its state) becomes one key, "activated" / "pressed" (appended to `key_entity` and
    `key_state`). Changes are found on the raw states first: two uses are two changes."""
    mapping = np.arange(len(key_state), dtype=np.int32)
    use_of = [USE_STATES.get(entity_id.split(".", 1)[0]) for entity_id in entities]
    if not any(use_of):
        return mapping
    use_codes: dict[int, int] = {}
    for code in range(len(key_gap)):
        entity = key_entity[code]
        use = use_of[entity]
        if use is None or key_gap[code]:
            continue
        if entity not in use_codes:
            use_codes[entity] = len(key_state)
            key_entity.append(entity)
            key_state.append(use)
        mapping[code] = use_codes[entity]
    return mapping


def build_table(
    events: Iterable[Event],
    *,
    zone: ZoneInfo,
    config: MinerConfig,
    automation_context_ids: Collection[str] = (),
    restarts: Restarts | None = None,
) -> EventTable:
    """Intern, sort, and keep only real state changes of non-numeric, known states."""
    interner = _Interner()
    auto = (
        automation_context_ids
        if isinstance(automation_context_ids, (set, frozenset))
        else set(automation_context_ids)
    )
    ts_parts: list[npt.NDArray[np.float64]] = []
    key_parts: list[npt.NDArray[np.int32]] = []
    manual_parts: list[npt.NDArray[np.bool_]] = []
    ctx_parts: list[npt.NDArray[np.int64]] = []
    iterator = iter(events)
    read = 0
    while chunk := list(islice(iterator, _CHUNK)):
        read += len(chunk)
        cols: list[tuple[Any, ...]] = list(zip(*chunk, strict=False))
        ts_chunk = np.fromiter(cols[0], dtype=np.float64, count=len(chunk))
        ok = (ts_chunk >= MIN_TS) & (ts_chunk < MAX_TS)  # NaN fails both
        if not ok.all():
            first = int(np.argmin(ok))
            raise time_range_error(float(ts_chunk[first]), f"event {read - len(chunk) + first + 1}")
        ts_parts.append(ts_chunk)
        key_parts.append(
            np.fromiter(
                map(interner.__getitem__, zip(cols[1], cols[2], strict=True)),
                dtype=np.int32,
                count=len(chunk),
            )
        )
        manual = np.ones(len(chunk), dtype=np.bool_)
        if len(cols) > 4:
            manual &= np.fromiter((p is None for p in cols[4]), dtype=np.bool_, count=len(chunk))
        if auto and len(cols) > 3:
            manual &= np.fromiter(
                (c not in auto for c in cols[3]), dtype=np.bool_, count=len(chunk)
            )
        manual_parts.append(manual)
        ctx_parts.append(
            np.fromiter((hash(c) if c else 0 for c in cols[3]), dtype=np.int64, count=len(chunk))
            if len(cols) > 3
            else np.zeros(len(chunk), dtype=np.int64)
        )
        del chunk, cols

    entity_codes: dict[str, int] = {}
    key_entity_list: list[int] = []
    key_state: list[str] = []
    ignored = config.ignore_states
    key_ok_list: list[bool] = []
    key_gap_list: list[bool] = []
    for entity_id, state in interner:
        key_entity_list.append(entity_codes.setdefault(entity_id, len(entity_codes)))
        key_state.append(state)
        gap = state.lower() in ignored
        key_gap_list.append(gap)
        key_ok_list.append(not gap and not _is_number(state))
    key_ok = np.asarray(key_ok_list, dtype=np.bool_)
    key_gap = np.asarray(key_gap_list, dtype=np.bool_)
    use_key = _use_keys(key_entity_list, key_state, key_gap_list, list(entity_codes))
    key_entity = np.asarray(key_entity_list, dtype=np.int32)

    ts = np.concatenate(ts_parts) if ts_parts else np.empty(0, np.float64)
    key = np.concatenate(key_parts) if key_parts else np.empty(0, np.int32)
    manual = np.concatenate(manual_parts) if manual_parts else np.empty(0, np.bool_)
    ctx = np.concatenate(ctx_parts) if ctx_parts else np.empty(0, np.int64)
    del ts_parts, key_parts, manual_parts, ctx_parts

    windows = startup_windows(restarts, config.startup_grace_s) if restarts else []
    startup = _inside(ts, windows)
    if ts.size:
        # A change is a row whose state differs from the entity's previous row; a row after
        # unavailable/unknown is a restore, not a human action; a start-up's rows only set the
        # state the next change is measured from (so a change made while HA was down is not
        # lost, and the start's simultaneous writes are no habit).
        ent = key_entity[key]
        order = np.lexsort((ts, ent))
        s_key, s_ent = key[order], ent[order]
        keep = key_ok[s_key] & ~startup[order]
        same_ent = s_ent[1:] == s_ent[:-1]
        prev_key = s_key[:-1]
        repeat = same_ent & (prev_key == s_key[1:])
        after_gap = same_ent & key_gap[prev_key]
        keep[1:] &= ~(repeat | after_gap)
        sel = order[keep]
        sel = sel[np.argsort(ts[sel], kind="stable")]
        ts, key, manual, ctx = ts[sel], key[sel], manual[sel], ctx[sel]
        if config.lookback_days is not None and ts.size:
            recent = ts >= ts[-1] - config.lookback_days * 86400
            ts, key, manual, ctx = ts[recent], key[recent], manual[recent], ctx[recent]
        key = use_key[key]

    return EventTable(
        ts=ts,
        key=key.astype(np.int32, copy=False),
        manual=manual,
        ctx=ctx,
        local=local_seconds(ts, zone),
        key_entity=key_entity,
        entities=list(entity_codes),
        key_state=key_state,
        events_read=read,
        startup_rows=int(startup.sum()),
    )
