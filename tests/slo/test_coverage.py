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
    EPISODE_FALSE_DETECTION,
    Dependence,
    calmest_block_lower,
    episode_mixture_quantile,
    episode_share_upper,
    failure_dependence,
    find_episodes,
    latent_design_effect,
    quantile_bounds,
    quantile_bounds_in_time_order,
    rate_bounds,
    serial_dependence,
    time_blocks,
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


def p95_bounds(values: np.ndarray, *, dependent: bool, method: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's p95 bounds per row (as `evaluate_quantile` takes them); `method=1` is the
    rule before issue 26's second round (no floor from the ranks, no time blocks), `method=2`
    before its third (the lower bound not held to the calmest block's where blocks disagree),
    `method=3` before its fourth (no episode rule on the upper side)."""
    lows, highs = [], []
    n = values.shape[1]
    for row in values:
        ordered = np.sort(row)
        series = pl.Series(row)
        value = float(np.quantile(ordered, 0.95))
        dependence = serial_dependence(series <= value)
        floor, blocks = 1.0, None
        if method >= 2:
            floor = latent_design_effect(row, 0.95) if dependence.design_effect == 1.0 else 1.0
            blocks = time_blocks(row, 0.95, value, CONFIDENCE)
        low, high = (
            quantile_bounds_in_time_order(
                series, pl.Series(ordered), 0.95, CONFIDENCE, dependence, floor, blocks
            )
            if dependent
            else quantile_bounds(n, 0.95, CONFIDENCE)
        )
        lower = ordered[low - 1] if low else -math.inf
        upper = ordered[high - 1] if high else math.inf
        if dependent and method >= 3 and blocks is not None and blocks.disagree:
            calm = calmest_block_lower(row, 0.95, CONFIDENCE, blocks)
            lower = -math.inf if calm is None else min(lower, calm)
            upper = episode_upper(row, upper) if method >= 4 else upper
        lows.append(lower)
        highs.append(upper)
    return np.array(lows), np.array(highs)


def episode_upper(row: np.ndarray, upper: float) -> float:
    """Method 4's upper p95 bound on a run whose time blocks disagree, from method 3's `upper`:
    at least the p95 of its calm and slow requests mixed at the episode rule's share."""
    episodes = find_episodes(row, 0.95, float(np.quantile(row, 0.95)))
    if not episodes.count or math.isinf(upper):
        return upper
    share = episode_share_upper(episodes, row.size, CONFIDENCE)
    return max(upper, episode_mixture_quantile(row, episodes, share, 0.95))


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
    1,000 replications, and with the mean-size bound allowing for the sizes not seen (round two)
    0.96 (RESULTS.md, issue 26). Held to 1.5 points below 95 % less two standard errors."""
    rng = np.random.default_rng(26)
    sizes, mean = pareto_sizes(rng, 1.5, 5000)
    n, bursts = 50_000, 50 / mean
    failed = burst_failures(rng, 300, n, bursts, sizes, 5000)
    p = bursts * mean / n
    assert (upper_bounds(failed, dependent=True) >= p).mean() >= allowed(300)
    assert (upper_bounds(failed, dependent=True, sizes=False) >= p).mean() < 0.85


@pytest.mark.parametrize(("mean_burst", "seed"), [(20.0, 27), (50.0, 28)])
def test_four_expected_bursts_of_any_mean_size_keep_the_error_bound(mean_burst: float, seed: int) -> None:
    """The coverage is stated in bursts: 4 expected in the run, geometric sizes of mean 20 or 50
    (80 or 200 expected failures in 50,000 requests)."""
    rng = np.random.default_rng(seed)
    n = 50_000
    failed = burst_failures(rng, 300, n, 4.0, lambda count: rng.geometric(1.0 / mean_burst, count), 2000)
    assert (upper_bounds(failed, dependent=True) >= 4.0 * mean_burst / n).mean() >= allowed(300)


@pytest.mark.parametrize(("rho", "seed", "method_1_short"), [(0.3, 29, False), (0.5, 30, True)])
def test_two_hundred_correlated_latencies_keep_both_bounds(
    rho: float, seed: int, method_1_short: bool
) -> None:
    """n = 200: the indicator's lag-1 estimate must pass 0.21 to count, so at rho 0.3-0.5 d was
    1 in most runs and the lower bound (what a FAIL rests on) covered 0.92-0.93 (RESULTS.md,
    issue 26). The floor from the ranks keeps both sides within 1.5 points; 600 replications,
    2 s.e. = 1.8 points. Bimodal latencies (10 % slow), the cell that fell short."""
    z = lognormal_ar1(np.random.default_rng(seed), 600, 200, rho)
    normal = np.log(z / 100.0) / 0.5
    z90, z95 = NormalDist().inv_cdf(0.9), NormalDist().inv_cdf(0.95)
    values = np.where(normal < z90, 40.0 * np.exp(0.3 * normal), 400.0 * np.exp(normal - z95))
    low, high = p95_bounds(values, dependent=True)
    assert (high >= 400.0).mean() >= allowed(600) and (low <= 400.0).mean() >= allowed(600)
    if method_1_short:  # the rule before, on the same runs: its lower bound covers 0.912 here
        before_low, _ = p95_bounds(values, dependent=True, method=1)
        assert (before_low <= 400.0).mean() < allowed(600)


def test_two_hundred_independent_latencies_keep_todays_exact_width() -> None:
    """The floor from the ranks counts only when their lag-1 correlation passes 2 / sqrt(n)
    (about 1 run in 40 of independent ones): the median width moves by ~1 % (1.011 on this seed;
    at n = 200 one rank is 0.5 % of the sample), against up to 45 % at rho 0.5."""
    values = lognormal_ar1(np.random.default_rng(31), 400, 200, 0.0)
    low, high = p95_bounds(values, dependent=True)
    exact_low, exact_high = p95_bounds(values, dependent=False)
    assert np.median(high - low) / np.median(exact_high - exact_low) <= 1.02


def slow_episodes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, int]:
    """Lognormal latencies x3 in episodes of 200-2,000 requests covering 5 % of the time at
    random (an alternating renewal process, entered at a random phase), and how many requests
    of the run were slow."""
    slow = np.zeros(n, bool)
    gap = 1100 * 19
    t = -int(rng.random() * (gap + 1100))
    while t < n:
        t += int(rng.exponential(gap))
        length = int(rng.integers(200, 2001))
        if t < n and t + length > 0:
            slow[max(t, 0) : t + length] = True
        t += length
    values = 100.0 * np.exp(0.5 * rng.standard_normal(n))
    values[slow] *= 3.0
    return values, int(slow.sum())


def episodes_p95() -> float:
    """The p95 of the stationary mixture: 95 % lognormal, 5 % three times slower."""
    normal = NormalDist()
    low, high = 1.0, 10_000.0
    for _ in range(100):
        middle = (low + high) / 2.0
        below = 0.95 * normal.cdf(math.log(middle / 100.0) / 0.5) + 0.05 * normal.cdf(
            math.log(middle / 300.0) / 0.5
        )
        low, high = (middle, high) if below < 0.95 else (low, middle)
    return low


def test_runs_that_contain_a_slow_episode_keep_the_upper_bound() -> None:
    """Slow episodes (issue 26): n = 10,000, runs holding at least 200 slow requests (a whole
    short episode or part of a long one). Such runs must cover the p95 from above at 95 % less
    1.5 points; the time blocks flag nearly all of them, and runs without an episode rarely
    (homogeneity at 1 %). 150 runs, about 60 with an episode: the allowance is 2 s.e. of 60."""
    rng = np.random.default_rng(32)
    truth = episodes_p95()
    runs = [slow_episodes(rng, 10_000) for _ in range(150)]
    holding = np.array([values for values, slow in runs if slow >= 200])
    quiet = [values for values, slow in runs if slow == 0]
    assert len(holding) >= 40 and len(quiet) >= 40
    _, high = p95_bounds(holding, dependent=True)
    assert (high >= truth).mean() >= CONFIDENCE - 0.015 - 2.0 * math.sqrt(0.95 * 0.05 / len(holding))
    flagged = [time_blocks(values, 0.95, float(np.quantile(values, 0.95)), CONFIDENCE) for values in holding]
    assert np.mean([blocks is not None and blocks.disagree for blocks in flagged]) >= 0.9
    calm = [time_blocks(values, 0.95, float(np.quantile(values, 0.95)), CONFIDENCE) for values in quiet]
    assert np.mean([blocks is not None and blocks.disagree for blocks in calm]) <= 0.05


@pytest.mark.parametrize(("alpha", "seed"), [(1.5, 33), (2.5, 34)])
def test_four_expected_bursts_of_two_or_more_heavy_tailed_failures_keep_the_error_bound(
    alpha: float, seed: int
) -> None:
    """The coverage goal counts bursts of two failures or more (a lone failure is no burst a run
    can tell from independent ones: at 4 expected bursts of any size, Pareto 1.5 covered 0.78,
    every miss a run whose failures all came singly). 4 expected such bursts: 11.3 bursts of
    any size at alpha 1.5, 22.6 at 2.5, over 50,000 requests."""
    rng = np.random.default_rng(seed)
    sizes, mean = pareto_sizes(rng, alpha, 5000)
    n, bursts = 50_000, 4.0 / 2.0**-alpha
    failed = burst_failures(rng, 300, n, bursts, sizes, 5000)
    assert (upper_bounds(failed, dependent=True) >= bursts * mean / n).mean() >= allowed(300)


def test_the_fail_side_covers_the_long_run_p95_over_all_runs_with_slow_episodes() -> None:
    """What a FAIL's confidence claims is the unconditional coverage of the lower bound: over all
    runs of the episode process, whatever they held. n = 3,000: a run holding an episode holds
    20-60 % slow requests, its own p95 is far above the long-run one, and method 2's lower bound
    covered 0.883 of all runs (0.923 at 10,000; RESULTS.md, issue 26 round three). Method 3
    takes the calmest block's lower bound where blocks disagree: 0.999 on 1,000 runs."""
    rng = np.random.default_rng(35)
    truth = episodes_p95()
    values = np.array([slow_episodes(rng, 3000)[0] for _ in range(300)])
    low, _ = p95_bounds(values, dependent=True)
    # Method 2 differs only where blocks disagree: bound those runs again, the rest are alike.
    flagged = np.array(
        [
            bool(blocks and blocks.disagree)
            for blocks in (
                time_blocks(row, 0.95, float(np.quantile(row, 0.95)), CONFIDENCE) for row in values
            )
        ]
    )
    before = low.copy()
    before[flagged] = p95_bounds(values[flagged], dependent=True, method=2)[0]
    assert flagged.sum() >= 30
    assert (low <= truth).mean() >= allowed(300)
    assert (before <= truth).mean() < allowed(300)


def test_heavy_tailed_bursts_missed_at_four_expected_bursts_are_runs_no_rule_within_5_percent_covers() -> (
    None
):
    """Pareto 1.5 at 4 expected bursts of any size: method 2 covers ~0.78 (RESULTS.md). Every
    miss is a run whose failures all came singly, and such a run is K failures at positions
    distributed as independent failures' are, so any rule bounds it as a function of K; a rule
    that keeps the exact bound within 5 % for independent failures gives it at most
    1.05 x CP(K), which is still below the true rate on every miss. The goal at 4 expected
    bursts of any size is out of reach of such a rule (benchmarks/singles_tradeoff.py)."""
    rng = np.random.default_rng(36)
    sizes, mean = pareto_sizes(rng, 1.5, 5000)
    n = 10_000
    failed = burst_failures(rng, 300, n, 4.0, sizes, 5000)
    truth = 4.0 * mean / n
    missed = upper_bounds(failed, dependent=True) < truth
    assert missed.mean() > 0.15  # coverage ~0.78, far from 0.935
    for row in failed[missed]:
        burst_sizes = failure_dependence(row).burst_sizes
        assert burst_sizes is None or burst_sizes.multiple == 0  # all singles (or none)
        assert 1.05 * rate_bounds(int(row.sum()), n, CONFIDENCE)[1] < truth


def test_runs_holding_one_short_slow_episode_keep_the_upper_bound_at_thirty_thousand() -> None:
    """Issue 26, round four: at n = 30,000 a run holding one short episode (200-599 slow
    requests, a third of its 5 % share) was covered from above in 0.35 of runs by method 3: ten
    blocks see how slowness varied within the run, not how often episodes recur beyond it (1.4
    expected a run). Method 4 counts the slow stretches (`find_episodes`) and mixes the run's
    calm and slow requests at an upper bound on the share of slow time (Clopper-Pearson on the
    stretches seen x their length). 40 such runs (drawn from the process, the rest discarded
    unbounded): coverage at least 0.935 (2 s.e. of 40 at 0.95: 0.07), where method 3 covers
    under half of them."""
    rng = np.random.default_rng(36)
    truth = episodes_p95()
    short: list[np.ndarray] = []
    while len(short) < 40:
        values, slow = slow_episodes(rng, 30_000)
        if 200 <= slow < 600:
            short.append(values)
    runs = np.array(short)
    _, before = p95_bounds(runs, dependent=True, method=3)
    flagged = [time_blocks(row, 0.95, float(np.quantile(row, 0.95)), CONFIDENCE) for row in runs]
    assert all(blocks is not None and blocks.disagree for blocks in flagged)
    # Method 4 differs from method 3 only there, by `episode_upper` (as `p95_bounds` applies it).
    high = np.array([episode_upper(row, upper) for row, upper in zip(runs, before, strict=True)])
    assert (high >= truth).mean() >= 0.935
    assert (before >= truth).mean() < 0.5


def test_the_episode_detector_finds_an_injected_stretch_and_nothing_in_steady_runs() -> None:
    """`find_episodes`: a 400-request stretch three times slower in 30,000 lognormal latencies
    is found as one episode, its ends within a window (100 requests at p95); steady runs show
    an episode in at most `EPISODE_FALSE_DETECTION` (1 %) of runs, plus two standard errors."""
    rng = np.random.default_rng(37)
    values = 100.0 * np.exp(0.5 * rng.standard_normal(30_000))
    values[12_030:12_430] *= 3.0
    episodes = find_episodes(values, 0.95, float(np.quantile(values, 0.95)))
    assert episodes.count == 1 and episodes.window == 100
    assert abs(episodes.starts[0] - 12_030) <= 100 and abs(episodes.ends[0] - 12_430) <= 100
    steady = 100.0 * np.exp(0.5 * rng.standard_normal((400, 30_000)))
    found = [find_episodes(row, 0.95, float(np.quantile(row, 0.95))).count for row in steady]
    rate = EPISODE_FALSE_DETECTION
    assert np.mean([count > 0 for count in found]) <= rate + 2.0 * math.sqrt(rate * (1 - rate) / 400)
