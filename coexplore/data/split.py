"""Seeded, stratified orderings: any prefix holds each class in about its overall share."""

from __future__ import annotations

import numpy as np


def stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(len(labels))`` drawn from ``rng`` and interleaved by class.

    Each item gets the quantile ``(rank + 0.5) / class_size`` of its rank within its class (in
    a random order); sorting by it spreads every class evenly along the order, so each prefix
    (a validation split, a training subset) is within one image per class of stratified, and
    prefixes nest: a 100-image subset is part of the 1,000-image subset with the same seed.
    """
    labels = np.asarray(labels, dtype=np.int64)
    perm = rng.permutation(len(labels))
    shuffled = labels[perm]
    counts = np.bincount(shuffled) if len(labels) else np.zeros(0, dtype=np.int64)
    by_class = np.argsort(shuffled, kind="stable")
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(labels), dtype=np.int64)
    rank[by_class] = np.arange(len(labels)) - np.repeat(starts, counts)
    quantile = (rank + 0.5) / counts[shuffled]
    return perm[np.argsort(quantile, kind="stable")]
