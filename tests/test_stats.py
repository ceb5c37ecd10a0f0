"""Paired statistics: the bootstrap interval and the Wilcoxon test, degenerate cases included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from clickbench import stats


def test_bootstrap_is_the_explicit_resampling_loop():
    d = np.array([0.1, -0.2, 0.3, 0.05, 0.12])
    ci = stats.bootstrap_ci(d, samples=500, seed=3)
    rng = np.random.default_rng(3)
    means = []
    for _ in range(500):
        idx = rng.integers(0, len(d), size=len(d))
        means.append(sum(d[i] for i in idx) / len(d))
    low, high = np.quantile(means, [0.025, 0.975])
    assert ci.low == pytest.approx(low, abs=1e-12)
    assert ci.high == pytest.approx(high, abs=1e-12)
    assert ci.low <= d.mean() <= ci.high
    assert ci.note == ""


def test_bootstrap_is_seeded():
    d = np.linspace(-1, 2, 17)
    assert stats.bootstrap_ci(d, 300, seed=1) == stats.bootstrap_ci(d, 300, seed=1)
    assert stats.bootstrap_ci(d, 300, seed=1) != stats.bootstrap_ci(d, 300, seed=2)


def test_bootstrap_level_widens_the_interval():
    d = np.random.default_rng(0).normal(size=40)
    narrow = stats.bootstrap_ci(d, 1000, 0, level=0.5)
    wide = stats.bootstrap_ci(d, 1000, 0, level=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize("values", [[], [0.3]])
def test_bootstrap_needs_two_values(values):
    ci = stats.bootstrap_ci(values, 2000, 0)
    assert math.isnan(ci.low) and math.isnan(ci.high)
    assert f"n={len(values)}<2" in ci.note


def test_bootstrap_of_constant_differences_is_a_point():
    ci = stats.bootstrap_ci([0.2, 0.2, 0.2], 200, 0)
    assert ci.low == pytest.approx(0.2) and ci.high == pytest.approx(0.2)


def test_wilcoxon_exact_small_sample():
    # ranks of |d|: 1, 2, 3, 4; one negative (rank 1): W- = 1;
    # two-sided exact p = 2 * P(W <= 1) = 2 * 2/16 (subsets {} and {1})
    t = stats.wilcoxon([-0.1, 0.2, 0.3, 0.4])
    assert t.pvalue == pytest.approx(2 * 2 / 16)
    assert t.note == ""


def test_wilcoxon_agrees_with_scipy():
    d = np.random.default_rng(5).normal(0.1, 1.0, size=60)
    assert stats.wilcoxon(d).pvalue == pytest.approx(sps.wilcoxon(d).pvalue)


@pytest.mark.parametrize(
    ("values", "note"),
    [([], "n=0<2"), ([0.5], "n=1<2"), ([0.0, 0.0, 0.0], "all differences are zero")],
)
def test_wilcoxon_degenerate_is_nan_with_a_note(values, note):
    t = stats.wilcoxon(values)
    assert math.isnan(t.pvalue)
    assert note in t.note


def test_holm_hand_case():
    # m = 4 defined p-values: sorted 0.01, 0.02, 0.03, 0.5 -> x4, x3, x2, x1 = 0.04, 0.06,
    # 0.06, 0.5, then the running maximum keeps them monotone; NaN stays NaN, not counted
    p = [0.03, float("nan"), 0.01, 0.5, 0.02]
    adj = stats.holm(p)
    assert np.isnan(adj[1])
    np.testing.assert_allclose(adj[[2, 4, 0, 3]], [0.04, 0.06, 0.06, 0.5])
    # the running maximum: 0.021 x 2 = 0.042 is raised to 0.06 (0.02 x 3); the cap at 1
    np.testing.assert_allclose(stats.holm([0.02, 0.021, 0.9]), [0.06, 0.06, 0.9])
    np.testing.assert_allclose(stats.holm([0.6, 0.7]), [1.0, 1.0])
    assert stats.holm([]).size == 0


def test_holm_is_bounded_by_bonferroni_and_is_the_step_down_rule():
    # Holm never exceeds Bonferroni and never goes below the raw p-value; it is the
    # step-down rule written out: sorted, multiplied by m, m-1, ..., 1, running max, cap 1
    rng = np.random.default_rng(4)
    for _ in range(50):
        p = rng.random(int(rng.integers(1, 12))) ** 3
        adj = stats.holm(p)
        m = p.size
        assert (adj >= p - 1e-15).all() and (adj <= np.minimum(1, m * p) + 1e-15).all()
        order = np.argsort(p)
        expected, running = np.empty(m), 0.0
        for i, j in enumerate(order):
            running = max(running, min(1.0, (m - i) * p[j]))
            expected[j] = running
        np.testing.assert_allclose(adj, expected)
