"""The comparison's statistics keep their coverage on time-ordered, serially correlated samples.

Coverage suite in the style of tests/slo/test_stats.py: fixed seeds, a binomial tolerance
(200 replications at a nominal 95 %: three standard errors is 4.6 points, so >= 90 %), small
samples so the whole file runs in seconds. AR(1) rho 0.3 is the dependence measured on real
k6 runs; an interval that ignored it would cover ~ 85 % there.
"""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from tests.compare.samples import lognormal_ar1, true_quantile
from verification_pipeline.compare.stats import effective_n, quantile_ratio, rate_difference, shift

REPLICATIONS = 200
MIN_COVERAGE = 0.90
N = 300


@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_shift_interval_covers_a_known_location_shift(rho: float) -> None:
    rng = random.Random(18 + int(rho * 10))
    delta = 4.0  # ms: a pure location shift, so the Hodges-Lehmann estimand is exactly delta
    covered = 0
    for _ in range(REPLICATIONS):
        current = pl.Series([v + delta for v in lognormal_ar1(rng, N, rho)])
        baseline = pl.Series(lognormal_ar1(rng, N, rho))
        s = shift(current, baseline, 0.95).shift
        covered += s.lower <= delta <= s.upper
    assert MIN_COVERAGE <= covered / REPLICATIONS <= 0.995


@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_p95_ratio_interval_covers_a_known_scale_change(rho: float) -> None:
    rng = random.Random(180 + int(rho * 10))
    factor = 1.2  # every latency 20 % longer: the true p95 ratio is exactly 1.2
    assert true_quantile(0.95, factor) / true_quantile(0.95) == pytest.approx(factor)
    covered = 0
    for _ in range(REPLICATIONS):
        current = pl.Series(lognormal_ar1(rng, 4 * N, rho, scale=factor))
        baseline = pl.Series(lognormal_ar1(rng, 4 * N, rho))
        r = quantile_ratio(current, baseline, 0.95, 0.95)
        covered += r.lower <= factor <= r.upper
    assert MIN_COVERAGE <= covered / REPLICATIONS <= 0.995


def test_rate_difference_interval_covers_bursty_failures() -> None:
    """Failures in bursts (a failing request makes the next one likelier to fail), rates 2 % and 1 %."""
    rng = random.Random(7)

    def bursty(n: int, rate: float) -> list[bool]:
        stay = 0.3  # P(fail | previous failed); the base rate is solved so the marginal is `rate`
        base = rate * (1 - stay) / (1 - rate)
        out, previous = [], False
        for _ in range(n):
            previous = rng.random() < (stay if previous else base)
            out.append(previous)
        return out

    covered = 0
    for _ in range(REPLICATIONS):
        d = rate_difference(pl.Series(bursty(3000, 0.02)), pl.Series(bursty(3000, 0.01)), 0.95).difference
        covered += d.lower <= 0.01 <= d.upper
    assert MIN_COVERAGE <= covered / REPLICATIONS <= 0.995


def test_effective_n_of_ar1_is_about_n_times_1_minus_rho_over_1_plus_rho() -> None:
    rng = random.Random(3)
    series = pl.Series([math.log(v) for v in lognormal_ar1(rng, 20_000, 0.3)])
    assert effective_n(series) == pytest.approx(20_000 * 0.7 / 1.3, rel=0.15)
    independent = pl.Series([rng.gauss(0, 1) for _ in range(20_000)])
    assert effective_n(independent) == pytest.approx(20_000, rel=0.1)
    assert effective_n(pl.Series([1.0] * 100)) == 100


def test_hodges_lehmann_equals_the_median_of_all_pairwise_differences() -> None:
    rng = random.Random(5)
    x = [rng.lognormvariate(3, 0.5) for _ in range(101)]
    y = [rng.lognormvariate(3, 0.5) for _ in range(80)]
    differences = sorted(a - b for a in x for b in y)
    middle = len(differences) // 2
    median = (differences[middle - 1] + differences[middle]) / 2
    assert shift(pl.Series(x), pl.Series(y), 0.95).shift.estimate == pytest.approx(median, abs=2e-4)


def test_a_100k_row_comparison_counts_pairs_without_overflow() -> None:
    """100k x 100k pairs is 1e10, beyond 32-bit counts: the shift of identical samples is 0."""
    rng = random.Random(9)
    x = pl.Series(lognormal_ar1(rng, 100_000, 0.3))
    result = shift(x, x, 0.95)
    assert result.shift.estimate == pytest.approx(0.0, abs=1e-3)
    assert result.effect_size == pytest.approx(0.0, abs=1e-9)
    assert result.p_value == pytest.approx(1.0)
