"""Nearest neighbours by cosine similarity, in blocks so memory stays bounded."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Rows of the similarity matrix computed at once, so a large home never builds an n x n matrix.
_SIM_BLOCK = 1024


def top_k_by_cosine(
    vectors: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Each row's k nearest other rows by cosine (rows are L2-normalised), best first."""
    n = vectors.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
    indices = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _SIM_BLOCK):
        stop = min(start + _SIM_BLOCK, n)
        sims = vectors[start:stop] @ vectors.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never oneself
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        scores[start:stop] = np.take_along_axis(part_scores, order, axis=1)
    return indices, scores
