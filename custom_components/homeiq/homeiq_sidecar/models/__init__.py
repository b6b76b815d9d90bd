"""The sidecar's models: lazy, cached, INT8 OpenVINO models for embed, rerank and classify.

Importing this package imports neither OpenVINO nor any conversion tooling; a model's first
use does (OpenVINO only, unless it must be converted).
"""

from __future__ import annotations

from .errors import ModelError, ModelLoadingError, ModelUnavailableError
from .manager import ModelManager
from .names import (
    DEFAULT_CATEGORIES,
    DEFAULT_MODELS,
    DEFAULT_PRIORITIES,
    PRECISIONS,
    ROLES,
)
from .results import ClassifyResult

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_MODELS",
    "DEFAULT_PRIORITIES",
    "PRECISIONS",
    "ROLES",
    "ClassifyResult",
    "ModelError",
    "ModelLoadingError",
    "ModelManager",
    "ModelUnavailableError",
]
