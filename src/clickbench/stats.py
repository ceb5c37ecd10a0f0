"""Paired statistics for comparing two methods on the same images.

Both functions take the per-image differences ``d = a - b`` (1-D, one value per image, NaN
already removed) and never raise on degenerate input: they return NaN with a short note
that the tables carry next to the number.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np


class Interval(NamedTuple):
    """A bootstrap confidence interval for the mean; ``note`` is empty when it is defined."""

    low: float
    high: float
    note: str = ""


class Test(NamedTuple):
    """A test's p-value; ``note`` says why it is NaN (or which method computed it)."""

    pvalue: float
    note: str = ""


def bootstrap_indices(n: int, samples: int, seed: int) -> np.ndarray:
    """The resampled image indices, ``(samples, n)`` int64.

    One ``np.random.default_rng(seed)`` per call, drawing ``rng.integers(0, n, size=n)``
    once per bootstrap sample, in order: the same seed gives the same resamples whatever
    else was computed before (each table row is reproducible on its own).
    """
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(samples, n))


def bootstrap_ci(diffs, samples: int, seed: int, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval of the mean of ``diffs``.

    Resamples the images with replacement ``samples`` times (see :func:`bootstrap_indices`),
    takes the mean of each resample, and returns the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of those means (``np.quantile``, linear interpolation).
    Fewer than 2 values give ``(nan, nan)`` with a note.
    """
    d = np.asarray(diffs, dtype=np.float64).ravel()
    if d.size < 2:
        return Interval(float("nan"), float("nan"), f"n={d.size}<2: no interval")
    means = d[bootstrap_indices(d.size, samples, seed)].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(float(low), float(high))


def wilcoxon(diffs) -> Test:
    """Two-sided Wilcoxon signed-rank p-value of ``diffs`` (``scipy.stats.wilcoxon``).

    Zero differences are dropped (scipy's default ``zero_method="wilcox"``, as in the
    textbook test). Fewer than 2 values, or no non-zero difference, give NaN with a note.
    """
    from scipy import stats

    d = np.asarray(diffs, dtype=np.float64).ravel()
    if d.size < 2:
        return Test(float("nan"), f"n={d.size}<2: no test")
    if not np.any(d != 0):
        return Test(float("nan"), "all differences are zero: no test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.wilcoxon(d)
    return Test(float(result.pvalue))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm, 1979), same order as ``pvalues``.

    With the m defined p-values sorted ascending, ``p_(i)`` becomes
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where the adjusted value is at most
    alpha controls the family-wise error rate at alpha. NaN p-values (no test) stay NaN and
    do not count in m.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = defined.size
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="mergesort")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


__all__ = ["Interval", "Test", "bootstrap_ci", "bootstrap_indices", "holm", "wilcoxon"]
