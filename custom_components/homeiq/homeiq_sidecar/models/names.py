"""Roles, defaults and the file-system-safe names of cache entries."""

from __future__ import annotations

import hashlib
from pathlib import Path
import re

ROLES = ("embed", "rerank", "classify")
DEFAULT_MODELS = {
    "embed": "sentence-transformers/all-MiniLM-L6-v2",
    "rerank": "BAAI/bge-reranker-base",
    "classify": "google/flan-t5-small",
}
DEFAULT_CATEGORIES = ("energy", "comfort", "security", "convenience", "maintenance")
DEFAULT_PRIORITIES = ("high", "medium", "low")
PRECISIONS = ("int8", "fp32")

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def is_hub_id(source: str) -> bool:
    """A hub id looks like ``owner/name`` and is not an existing local path."""
    return bool(_HUB_ID.match(source)) and ".." not in source and not Path(source).exists()


def safe_name(source: str) -> str:
    """Directory name for a source: readable, with a hash for local paths so two never clash."""
    if is_hub_id(source):
        return _UNSAFE.sub("-", source.replace("/", "--"))
    resolved = str(Path(source).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:10]
    stem = _UNSAFE.sub("-", Path(resolved).name) or "model"
    return f"local-{stem}-{digest}"
