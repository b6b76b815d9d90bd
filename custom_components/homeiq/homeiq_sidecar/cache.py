"""On-disk caches of model results, keyed by model identity and text.

A daily re-run over an unchanged home sees the same pattern descriptions: their embeddings,
classifications and reranker pair scores come from here instead of from the models. SQLite
gives atomic, crash-safe writes (a half-written entry is never read) in one file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import hashlib
import json
import logging
from pathlib import Path
import sqlite3
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

# 2: model keys carry the converted files' fingerprint (enrich.model_key); entries under the
# older keys would never be read again, so a version-1 file starts empty instead of keeping them.
SCHEMA_VERSION = 2
# SQLite limits the number of parameters in one statement; stay well below it.
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL, text_key TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, text_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS classifications (
    model TEXT NOT NULL, text_key TEXT NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (model, text_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pair_scores (
    model TEXT NOT NULL, pair_key TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (model, pair_key)) WITHOUT ROWID;
"""


def text_key(text: str) -> str:
    """Stable key of a text (the text itself is not stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pair_key(query: str, document: str) -> str:
    """Stable key of an ordered (query, document) pair: a cross-encoder is not symmetric."""
    digest = hashlib.sha256()
    for part in (query, document):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class TextCache:
    """Three key-value tables in one SQLite file; blocking, so call it from a worker thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._conn = self._open(path)
        except sqlite3.DatabaseError as err:
            # The cache only saves work: a damaged file is set aside, never a reason not to start.
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            _LOGGER.warning("Text cache %s is unreadable (%s); moved to %s", path, err, aside)
            for suffix in ("", "-wal", "-shm"):
                damaged = path.with_name(path.name + suffix)
                if damaged.exists():
                    damaged.rename(aside.with_name(aside.name + suffix))
            self._conn = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                conn.executescript(_SCHEMA)
                row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                    )
                elif row[0] != str(SCHEMA_VERSION):
                    # An older layout: its entries cannot be trusted, start over.
                    for table in ("embeddings", "classifications", "pair_scores"):
                        conn.execute(f"DELETE FROM {table}")  # noqa: S608
                    conn.execute(
                        "UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),)
                    )
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    def _get(self, table: str, model: str, keys: Sequence[str]) -> dict[str, Any]:
        unique = list(dict.fromkeys(keys))
        key_col = "pair_key" if table == "pair_scores" else "text_key"
        value_col = {"embeddings": "vector", "classifications": "result", "pair_scores": "score"}[
            table
        ]
        found: dict[str, Any] = {}
        with self._lock:
            for chunk in _chunks(unique):
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT {key_col}, {value_col} FROM {table} "  # noqa: S608
                    f"WHERE model=? AND {key_col} IN ({marks})",
                    (model, *chunk),
                ).fetchall()
                found.update(rows)
        return found

    def _put(self, table: str, model: str, rows: Iterable[tuple[str, Any]]) -> None:
        key_col = "pair_key" if table == "pair_scores" else "text_key"
        value_col = {"embeddings": "vector", "classifications": "result", "pair_scores": "score"}[
            table
        ]
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                f"INSERT OR REPLACE INTO {table} (model, {key_col}, {value_col}) "  # noqa: S608
                "VALUES (?, ?, ?)",
                [(model, key, value) for key, value in rows],
            )

    # Embeddings -------------------------------------------------------------------------

    def get_embeddings(
        self, model: str, texts: Sequence[str]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Cached vectors of those texts that have one, by text."""
        keys = {text: text_key(text) for text in texts}
        found = self._get("embeddings", model, list(keys.values()))
        return {
            text: np.frombuffer(found[key], dtype=np.float32).copy()
            for text, key in keys.items()
            if key in found
        }

    def put_embeddings(
        self, model: str, texts: Sequence[str], vectors: npt.NDArray[np.float32]
    ) -> None:
        """Store one vector per text."""
        self._put(
            "embeddings",
            model,
            (
                (text_key(text), np.asarray(vec, dtype=np.float32).tobytes())
                for text, vec in zip(texts, vectors, strict=True)
            ),
        )

    # Classifications --------------------------------------------------------------------

    def get_classifications(self, model: str, texts: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Cached classification results (JSON objects) by text."""
        keys = {text: text_key(text) for text in texts}
        found = self._get("classifications", model, list(keys.values()))
        return {text: json.loads(found[key]) for text, key in keys.items() if key in found}

    def put_classifications(self, model: str, results: Mapping[str, Mapping[str, Any]]) -> None:
        """Store one JSON-serialisable result per text."""
        self._put(
            "classifications",
            model,
            ((text_key(text), json.dumps(result)) for text, result in results.items()),
        )

    # Pair scores ------------------------------------------------------------------------

    def get_pair_scores(
        self, model: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], float]:
        """Cached reranker scores by (query, document)."""
        keys = {pair: pair_key(*pair) for pair in pairs}
        found = self._get("pair_scores", model, list(keys.values()))
        return {pair: float(found[key]) for pair, key in keys.items() if key in found}

    def put_pair_scores(self, model: str, scores: Mapping[tuple[str, str], float]) -> None:
        """Store reranker scores by (query, document)."""
        self._put(
            "pair_scores",
            model,
            ((pair_key(*pair), float(score)) for pair, score in scores.items()),
        )

    def counts(self) -> dict[str, int]:
        """Entries per table (for diagnostics)."""
        with self._lock:
            return {
                table: int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
                for table in ("embeddings", "classifications", "pair_scores")
            }
