"""Sequence detector: A -> B -> C in order within a window, chained from accepted pairs.

Only chains of pairs that already passed the pair test are checked, joined on the shared
middle event, so the cost is the number of pair instances, not the number of events cubed.
"""

from __future__ import annotations

import numpy as np

from .found import SEQUENCE, Found
from .model import MinerConfig
from .pairs import PairIndex
from .table import EventTable


def detect_sequences(table: EventTable, index: PairIndex, cfg: MinerConfig) -> list[Found]:
    by_first: dict[int, list[int]] = {}
    for a, b in index.instances:
        by_first.setdefault(a, []).append(b)
    ent = table.key_entity
    day = np.floor(table.local / 86400).astype(np.int64)
    found: list[Found] = []
    for (a, b), (j1, i1) in index.instances.items():
        for c in by_first.get(b, []):
            if ent[c] in (ent[a], ent[b]):
                continue
            j2, i2 = index.instances[(b, c)]
            o = np.argsort(j2)
            j2s, i2s = j2[o], i2[o]
            pos = np.minimum(np.searchsorted(j2s, i1), j2s.size - 1)
            hit = j2s[pos] == i1
            first, mid, last = j1[hit], i1[hit], i2s[pos[hit]]
            ok = table.ts[last] - table.ts[first] <= cfg.sequence_window_s
            first, mid, last = first[ok], mid[ok], last[ok]
            n = first.size
            conf = n / max(int(index.n_key[a]), 1)
            if n < cfg.min_occurrences or conf < cfg.min_confidence:
                continue
            days_seen = int(np.unique(day[first]).size)
            if days_seen < cfg.min_days:
                continue
            total = table.ts[last] - table.ts[first]
            found.append(
                Found(
                    type=SEQUENCE,
                    steps=[a, b, c],
                    occurrences=int(n),
                    days_seen=days_seen,
                    confidence=round(conf, 3),
                    manual_share=float((table.manual[mid] & table.manual[last]).mean()),
                    occurrence_ts=table.ts[first],
                    delay_s=float(np.median(total)),
                    delays_s=[
                        float(np.median(table.ts[mid] - table.ts[first])),
                        float(np.median(table.ts[last] - table.ts[mid])),
                    ],
                )
            )
    return found
