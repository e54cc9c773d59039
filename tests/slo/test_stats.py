"""The statistics: k6's percentile exactly, binomial tails, and intervals that keep their coverage."""

from __future__ import annotations

import math
import random
import statistics

import polars as pl
import pytest

from verification_pipeline.quantile import quantile_type7
from verification_pipeline.slo.stats import (
    Dependence,
    binomial_cdf,
    clopper_pearson,
    failure_dependence,
    quantile_bounds,
    quantile_upper_sample_size,
    rate_bounds,
    serial_dependence,
    zero_failure_sample_size,
)


def k6_percentile(values: list[float], pct: float) -> float:
    """k6's TrendSink.P transcribed from metrics/sink.go (v1.1), as the reference."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    i = pct * (len(ordered) - 1.0)
    j, k = ordered[math.floor(i)], ordered[math.ceil(i)]
    return j + (k - j) * (i - math.floor(i))


def test_quantile_is_k6s_and_hyndman_fan_type7() -> None:
    rng = random.Random(3)
    for size in (1, 2, 3, 10, 101, 1000):
        values = [rng.lognormvariate(3, 1) for _ in range(size)]
        ordered = sorted(values)
        for q in (0.5, 0.9, 0.95, 0.99):
            assert quantile_type7(ordered, q) == k6_percentile(values, q)
        if size > 1:
            inclusive = statistics.quantiles(values, n=100, method="inclusive")
            assert quantile_type7(ordered, 0.95) == pytest.approx(inclusive[94], rel=1e-12)


def test_binomial_cdf_against_direct_sums() -> None:
    for n in (1, 7, 60, 400):
        for p in (0.001, 0.05, 0.5, 0.95):
            for k in range(-1, n + 1, max(1, n // 13)):
                direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
                assert binomial_cdf(k, n, p) == pytest.approx(direct, abs=1e-12)


def test_clopper_pearson_known_values() -> None:
    r_binom_test = (0.0164318792, 0.1128349111)  # R: binom.test(5, 100)$conf.int
    assert clopper_pearson(5, 100, 0.95) == pytest.approx(r_binom_test, abs=1e-9)
    low, high = clopper_pearson(0, 3000, 0.95)
    assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / 3000), rel=1e-9)
    low, high = clopper_pearson(40, 40, 0.95)
    assert high == 1 and low == pytest.approx(0.025 ** (1 / 40), rel=1e-9)
    low, high = clopper_pearson(1234, 1_000_000, 0.95)
    assert low < 0.001234 < high and high - low < 0.0002


def test_quantile_bounds_are_one_sided_order_statistics() -> None:
    # One-sided 97.5 % bounds are the two-sided 95 % interval's ends.
    assert quantile_bounds(20, 0.95, 0.975) == (17, None)  # 20 samples cannot bound p95 from above
    assert quantile_upper_sample_size(0.95, 0.975) == 72
    assert quantile_bounds(71, 0.95, 0.975)[1] is None
    assert quantile_bounds(72, 0.95, 0.975)[1] == 72
    # One-sided 95 %: 0.95^59 <= 5 % < 0.95^58.
    assert quantile_upper_sample_size(0.95, 0.95) == 59
    assert quantile_bounds(58, 0.95, 0.95)[1] is None and quantile_bounds(59, 0.95, 0.95)[1] == 59
    low, high = quantile_bounds(1_000_000, 0.95, 0.975)
    assert low < 950_000 < high and high - low < 1000


def test_an_effective_n_equal_to_n_changes_nothing_and_a_smaller_one_widens() -> None:
    for n in (100, 1000, 12_345):
        assert quantile_bounds(n, 0.95, 0.95, float(n)) == quantile_bounds(n, 0.95, 0.95)
    low, high = quantile_bounds(10_000, 0.95, 0.95)
    wide_low, wide_high = quantile_bounds(10_000, 0.95, 0.95, 2_500.0)
    # Binomial sd at n_eff = n / 4 is twice as large in rank units.
    assert wide_low < low and wide_high > high
    assert (wide_high - wide_low) == pytest.approx(2 * (high - low), rel=0.1)
    assert rate_bounds(5, 1000, 0.95) == clopper_pearson(5, 1000, 0.90)
    assert rate_bounds(50, 10_000, 0.95, design_effect=10.0) == clopper_pearson(5, 1000, 0.90)


def test_zero_failure_sample_size() -> None:
    needed = zero_failure_sample_size(0.001, 0.95)
    assert needed == 2995
    assert rate_bounds(0, needed, 0.95)[1] <= 0.001 < rate_bounds(0, needed - 1, 0.95)[1]
    assert zero_failure_sample_size(0.001, 0.95, design_effect=2.0) == 5989  # ceil(2 x 2994.2)


def test_independent_indicators_have_no_design_effect() -> None:
    rng = random.Random(8)
    for n, share in ((1000, 0.05), (20_000, 0.05), (20_000, 0.001)):
        dependence = serial_dependence(pl.Series([rng.random() < share for _ in range(n)]))
        assert dependence.design_effect == 1.0 and dependence.effective_n == n
    assert serial_dependence(pl.Series([False] * 500)) == Dependence(None, 1.0, 500.0)


def test_markov_indicator_design_effect_matches_theory() -> None:
    """A two-state chain that stays with probability a has design effect (1 + a') / (1 - a'),
    a' = a + b - 1 its lag-1 autocorrelation; here 0.6 -> 4."""
    rng = random.Random(9)
    state, values = False, []
    for _ in range(50_000):
        state = rng.random() < (0.8 if state else 0.2)
        values.append(state)
    dependence = serial_dependence(pl.Series(values))
    assert dependence.lag1_autocorrelation == pytest.approx(0.6, abs=0.02)
    assert dependence.design_effect == pytest.approx(4.0, rel=0.15)
    # The failure bound takes the point estimate (its error is allowed for by t on the bursts).
    failures = failure_dependence(pl.Series(values))
    assert (
        failures.design_effect == pytest.approx(4.0, rel=0.1)
        and failures.design_effect < dependence.design_effect
    )
    assert failures.bursts == sum(
        1 for before, now in zip([False, *values], values, strict=False) if now and not before
    )


def test_failure_bursts_are_the_runs_of_failures() -> None:
    flags = [False, True, True, False, True, False, False, True, True, True]
    assert failure_dependence(pl.Series(flags)).bursts == 3
    assert failure_dependence(pl.Series([True, False, False, False])).bursts == 1


def test_rate_bound_uses_students_t_on_the_bursts_only_when_failures_cluster() -> None:
    # t at 95 % on 10 degrees of freedom is 1.812461, so the level becomes Phi(1.812461).
    t_level = statistics.NormalDist().cdf(1.812461)
    assert rate_bounds(40, 10_000, 0.95, 4.0, bursts=11) == pytest.approx(
        rate_bounds(40, 10_000, t_level, 4.0), rel=1e-6
    )
    assert rate_bounds(40, 10_000, 0.95, 1.0, bursts=11) == rate_bounds(40, 10_000, 0.95)
    few, many = (
        rate_bounds(40, 10_000, 0.95, 4.0, bursts=3)[1],
        rate_bounds(40, 10_000, 0.95, 4.0, bursts=1000)[1],
    )
    assert few > many > rate_bounds(40, 10_000, 0.95, 4.0)[1]
    assert many == pytest.approx(rate_bounds(40, 10_000, 0.95, 4.0)[1], rel=0.01)


def test_quantile_ci_coverage_by_simulation() -> None:
    """2000 samples of 300 lognormal latencies: the p95 interval holds the true p95 >= 93 %."""
    rng = random.Random(11)
    mu, sigma, n = 4.0, 0.6, 300
    true_p95 = math.exp(mu + sigma * statistics.NormalDist().inv_cdf(0.95))
    low_rank, high_rank = quantile_bounds(n, 0.95, 0.975)
    covered = 0
    for _ in range(2000):
        ordered = sorted(rng.lognormvariate(mu, sigma) for _ in range(n))
        covered += ordered[low_rank - 1] <= true_p95 <= ordered[high_rank - 1]
    assert covered / 2000 >= 0.93


def test_rate_ci_coverage_by_simulation() -> None:
    """2000 runs of 5000 requests failing at 0.1 %: the interval holds 0.1 % >= 93 % of the time."""
    rng = random.Random(5)
    n, p = 5000, 0.001
    intervals: dict[int, tuple[float, float]] = {}
    covered = 0
    for _ in range(2000):
        failures = sum(rng.random() < p for _ in range(n))
        if failures not in intervals:
            intervals[failures] = clopper_pearson(failures, n, 0.95)
        low, high = intervals[failures]
        covered += low <= p <= high
    assert covered / 2000 >= 0.93
