"""The statistics of a comparison over seeds: means with confidence intervals, paired tests,
and Holm's correction for the number of tests on a page.

- :func:`mean_ci`: the mean and the half-width of its Student-t confidence interval.
- :func:`paired_test`: Wilcoxon's signed-rank test of paired samples (one value per seed and
  arm, the same seeds), two-sided; no normality assumed, which suits a best-so-far that piles
  up at an optimum. Every difference zero: p = 1.
- :func:`holm`: Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective
  multiple test procedure"): it keeps the family-wise error rate of all the page's tests at
  the level, with no assumption on how they depend on each other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEVEL = 0.05


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the ``confidence`` interval of the mean, Student t); the half-width
    is NaN for fewer than two values, and the mean too for none."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan
    from scipy.stats import t

    sem = float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, float(t.ppf(0.5 + confidence / 2, len(x) - 1)) * sem


def paired_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of Wilcoxon's signed-rank test that ``a - b`` is centred on zero (pairs in
    order); 1.0 when every pair is equal, NaN for fewer than two pairs."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples of different sizes: {len(x)} and {len(y)}")
    if len(x) < 2:
        return math.nan
    d = x - y
    if not np.any(d):
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(d, zero_method="zsplit").pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (NaN entries stay NaN and are not counted):
    reject a hypothesis at level α when its adjusted p is below α."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), math.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m, running = len(tested), 0.0
    for rank, i in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict(difference: float, p_adjusted: float, level: float = LEVEL) -> str:
    """ "ahead", "behind" or "level" (not separated at ``level``) from a mean difference and
    its adjusted p."""
    if math.isnan(p_adjusted) or p_adjusted >= level or difference == 0:
        return "level"
    return "ahead" if difference > 0 else "behind"


__all__ = ["LEVEL", "holm", "mean_ci", "paired_test", "verdict"]
