"""Result types, importable without OpenVINO."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ClassifyResult:
    """Category and priority of one text, each with its confidence and every label's score."""

    category: str
    category_confidence: float
    category_scores: dict[str, float]
    priority: str
    priority_confidence: float
    priority_scores: dict[str, float]
