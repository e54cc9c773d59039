"""The bounds keep their coverage when requests are not independent, checked by simulation.

Fixed seeds; a few hundred replications per cell, so each assertion allows two binomial
standard errors beside the 1.5 points the SLO maths promises (nominal 95 % one-sided). The
full table (more cells, 1,000 replications) is benchmarks/interval_coverage.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from verification_pipeline.slo.stats import (
    Dependence,
    failure_dependence,
    quantile_bounds,
    quantile_bounds_in_time_order,
    rate_bounds,
    serial_dependence,
)

CONFIDENCE = 0.95
TRUE_P95 = 100.0 * math.exp(0.5 * NormalDist().inv_cdf(0.95))


def allowed(reps: int) -> float:
    """Lowest acceptable measured coverage: 1.5 points below nominal, less two standard errors."""
    return CONFIDENCE - 0.015 - 2.0 * math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / reps)


def lognormal_ar1(rng: np.random.Generator, reps: int, n: int, rho: float) -> np.ndarray:
    noise = rng.standard_normal((reps, n))
    z = np.empty_like(noise)
    z[:, 0] = noise[:, 0]
    for t in range(1, n):
        z[:, t] = rho * z[:, t - 1] + math.sqrt(1 - rho * rho) * noise[:, t]
    return 100.0 * np.exp(0.5 * z)


def p95_bounds(values: np.ndarray, *, dependent: bool) -> tuple[np.ndarray, np.ndarray]:
    lows, highs = [], []
    n = values.shape[1]
    for row in values:
        ordered = np.sort(row)
        series = pl.Series(row)
        dependence = serial_dependence(series <= np.quantile(ordered, 0.95))
        low, high = (
            quantile_bounds_in_time_order(series, pl.Series(ordered), 0.95, CONFIDENCE, dependence)
            if dependent
            else quantile_bounds(n, 0.95, CONFIDENCE)
        )
        lows.append(ordered[low - 1])
        highs.append(ordered[high - 1])
    return np.array(lows), np.array(highs)


def test_independent_latencies_keep_todays_exact_width_and_coverage() -> None:
    values = lognormal_ar1(np.random.default_rng(17), 300, 2000, 0.0)
    low, high = p95_bounds(values, dependent=True)
    exact_low, exact_high = p95_bounds(values, dependent=False)
    assert np.median(high - low) / np.median(exact_high - exact_low) <= 1.01
    assert (high >= TRUE_P95).mean() >= allowed(300) and (low <= TRUE_P95).mean() >= allowed(300)


def test_correlated_latencies_keep_coverage_where_the_exact_interval_loses_it() -> None:
    """AR(1) rho 0.5 on the log scale: the independent-sample bound covers ~88 %."""
    values = lognormal_ar1(np.random.default_rng(18), 300, 4000, 0.5)
    low, high = p95_bounds(values, dependent=True)
    _, exact_high = p95_bounds(values, dependent=False)
    assert (high >= TRUE_P95).mean() >= allowed(300)
    assert (low <= TRUE_P95).mean() >= allowed(300)
    assert (exact_high >= TRUE_P95).mean() < allowed(300)


def markov_failures(rng: np.random.Generator, reps: int, n: int, p: float, mean_burst: float) -> np.ndarray:
    """A two-state chain: failing with stationary share p, bursts of mean length `mean_burst`."""
    leave = 1.0 / mean_burst
    enter = p * leave / (1.0 - p)
    state = np.empty((reps, n), bool)
    state[:, 0] = rng.random(reps) < p
    u = rng.random((reps, n))
    for t in range(1, n):
        state[:, t] = np.where(state[:, t - 1], u[:, t] >= leave, u[:, t] < enter)
    return state


def burst_failures(
    rng: np.random.Generator, reps: int, n: int, bursts: float, sizes: Callable[[int], np.ndarray], cap: int
) -> np.ndarray:
    """Bursts starting at random requests (Poisson, `bursts` expected in n) with sizes from
    `sizes`; those starting up to `cap` requests before the run reach into it (stationary)."""
    failed = np.zeros((reps, n), bool)
    for row in failed:
        count = rng.poisson(bursts * (n + cap) / n)
        starts = rng.integers(-cap, n, count)
        ends = np.minimum(starts + sizes(count), n)
        edges = np.zeros(n + 1, np.int64)
        np.add.at(edges, np.maximum(starts[ends > 0], 0), 1)
        np.add.at(edges, ends[ends > 0], -1)
        row[:] = np.cumsum(edges[:-1]) > 0
    return failed


def pareto_sizes(
    rng: np.random.Generator, alpha: float, cap: int
) -> tuple[Callable[[int], np.ndarray], float]:
    """Integer burst sizes with P(S >= s) = s^-alpha up to `cap`, and their mean."""
    mean = float((np.arange(1, cap + 1, dtype=float) ** -alpha).sum())
    return (
        lambda count: np.minimum(np.floor(rng.random(count) ** (-1.0 / alpha)), cap).astype(np.int64)
    ), mean


def upper_bounds(failed: np.ndarray, *, dependent: bool, sizes: bool = True) -> np.ndarray:
    """Upper bounds by the pipeline's rule; `sizes=False` is the rule before issue 26 (d and t only)."""
    n = failed.shape[1]
    out = []
    for row in failed:
        dependence = failure_dependence(row) if dependent else Dependence(None, 1.0, n)
        burst_sizes = dependence.burst_sizes if sizes else None
        out.append(
            rate_bounds(
                int(row.sum()), n, CONFIDENCE, dependence.design_effect, dependence.bursts, burst_sizes
            )[1]
        )
    return np.array(out)


def test_bursty_failures_keep_the_error_bound_where_the_exact_one_covers_two_thirds() -> None:
    """0.25 % failures in bursts of mean 5 over 40,000 requests (100 expected failures)."""
    p = 0.0025
    failed = markov_failures(np.random.default_rng(19), 200, 40_000, p, 5.0)
    assert (upper_bounds(failed, dependent=True) >= p).mean() >= allowed(200)
    assert (upper_bounds(failed, dependent=False) >= p).mean() < 0.8


def test_twenty_expected_failures_in_four_bursts_keep_the_error_bound() -> None:
    """0.2 % failures in bursts of mean 5 over 10,000 requests: the smallest cell the coverage
    promise covers. d plugged in, or raised by one standard error, covered 87 % and 92 % here.
    2,000 replications, so the allowance (2 s.e.) is 1 point and the old 92 % fails it."""
    p = 0.002
    failed = markov_failures(np.random.default_rng(21), 2000, 10_000, p, 5.0)
    assert (upper_bounds(failed, dependent=True) >= p).mean() >= allowed(2000)


@pytest.mark.parametrize("p", [0.002, 0.01])
def test_independent_failures_get_todays_exact_bound(p: float) -> None:
    """At 1 % independent failures pair up by chance (200 failures, ~2 adjacent pairs a run):
    the bound on bursts and sizes must not widen today's interval there (it did by ~7 %)."""
    failed = np.random.default_rng(20).random((200, 20_000)) < p
    ours, exact = upper_bounds(failed, dependent=True), upper_bounds(failed, dependent=False)
    assert np.median(ours / exact) == 1.0
    assert (ours >= p).mean() >= allowed(200)


def test_heavy_tailed_burst_sizes_raise_the_error_bounds_coverage_from_three_quarters() -> None:
    """Bursts with Pareto sizes (alpha 1.5, capped at 5,000: design effect ~100, which a run
    underestimates more often than not), 19 expected over 50,000 requests (50 failures): the
    design-effect rule alone covers ~0.78; with frequency x mean size, each bounded, 0.907 on
    1,000 replications (RESULTS.md, issue 26: short of 0.935 by 2.8 points). The floor is that
    figure less two standard errors of 300 replications."""
    rng = np.random.default_rng(26)
    sizes, mean = pareto_sizes(rng, 1.5, 5000)
    n, bursts = 50_000, 50 / mean
    failed = burst_failures(rng, 300, n, bursts, sizes, 5000)
    p = bursts * mean / n
    assert (upper_bounds(failed, dependent=True) >= p).mean() >= 0.907 - 2.0 * math.sqrt(0.907 * 0.093 / 300)
    assert (upper_bounds(failed, dependent=True, sizes=False) >= p).mean() < 0.85


@pytest.mark.parametrize(("mean_burst", "seed"), [(20.0, 27), (50.0, 28)])
def test_four_expected_bursts_of_any_mean_size_keep_the_error_bound(mean_burst: float, seed: int) -> None:
    """The coverage is stated in bursts: 4 expected in the run, geometric sizes of mean 20 or 50
    (80 or 200 expected failures in 50,000 requests)."""
    rng = np.random.default_rng(seed)
    n = 50_000
    failed = burst_failures(rng, 300, n, 4.0, lambda count: rng.geometric(1.0 / mean_burst, count), 2000)
    assert (upper_bounds(failed, dependent=True) >= 4.0 * mean_burst / n).mean() >= allowed(300)
