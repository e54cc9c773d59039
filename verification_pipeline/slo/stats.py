"""The statistics behind SLO figures: k6's percentile, and confidence bounds that need no
assumption about the latency distribution and keep their coverage when requests are not
independent.

- k6's percentile itself is `verification_pipeline.quantile.quantile_type7`.
- `quantile_bounds`: the order-statistic bounds. The number of samples at or below the true
  q-quantile is Binomial(n, q), so the sample rank s with P(B <= s-1) >= c bounds it from above
  at level c, and the rank r with P(B <= r-1) <= 1-c from below; valid for any continuous
  distribution (conservative with ties). Under serial dependence B's variance grows by the
  design effect, so the ranks come from Binomial(n_eff, q) scaled back to n.
- `quantile_bounds_in_time_order`: the same, inverting the test at each candidate bound with
  the design effect of the indicator at that bound (what the SLO verdicts use).
- `rate_bounds`: Clopper-Pearson on (failures / d, n / d) with d the design effect of the
  failure indicator (`failure_dependence`), at a level raised by Student's t on the bursts seen
  when d > 1, and never below burst frequency x mean burst size, each bounded on its own
  (`burst_rate_upper`, for heavy-tailed burst sizes); exact (never below nominal) for
  independent requests, where d = 1 and every burst is one failure.
- `serial_dependence`: the design effect d = 1 + 2 sum_k w_k rho_k of a 0/1 indicator in time
  order (rho_k its autocorrelation at lag k), n_eff = n / d, raised by its standard error.

Every bound is one-sided at the configured level: a PASS claims "value <= threshold" at that
level, a FAIL claims "value > threshold" at it. [lower, upper] together is a two-sided interval
at 2c - 1.

Why this method (measured in benchmarks/interval_coverage.py, table in benchmarks/RESULTS.md):
- The order-statistic interval on an effective n keeps today's exact interval whenever the
  data show no dependence, because d is exactly 1 then: the lag window is chosen by Politis'
  rule (the first lag after which `max(5, sqrt(log10 n))` consecutive autocorrelations are all
  inside +-2 sqrt(log10(n) / n)), and with none outside it the window is empty. At rho 0 the
  median width equals the exact interval's; a batch-means variance of the same indicator
  covered as well at rho 0.3-0.5 but moved the width at rho 0 by up to 1 %, and batch
  quantiles or a block bootstrap cost far more (sorting per block or per resample) and widen
  the interval at rho 0 by the blocking itself.
- The indicator 1{x_t <= u} is what the binomial count is made of, so its autocorrelation is
  the right variance inflation for the rank, whatever the latency distribution; the flat-top
  window (weight 1 up to M/2, falling to 0 at M = min(2m, m + K_n)) has small bias for geometrically decaying
  correlations such as AR(1). Measured at each candidate bound u rather than only at q^: a
  warm-up burst makes every sample above q^ one cluster, which says nothing about a bound far
  above it (on a 3 s run of the reference target this alone made a 7 ms p95 against a 700 ms
  threshold INCONCLUSIVE).
- For failures the same estimator on the failure indicator recovers the burst design effect
  (E[S^2]/E[S] for burst size S), which is what over-dispersion of counts per window measures
  too, without choosing a window. With few bursts seen the estimate is a variance from a
  handful of clusters and falls short of the truth more often than not: plugged in, the bound
  covered 87 % at 20 expected failures (about 4 bursts of mean 5), raised by one standard
  error (what the quantile bounds keep) 92 %, by two 95 % but 9-23 % wider in every bursty
  cell. What covers is the cluster-robust rule: the point estimate of d, with the level raised
  to Phi(t_{K-1}^-1(c)) for K bursts seen (Student's t on the clusters the variance came from,
  as a quasi-binomial interval would use): 96 % at 20 expected failures (20 % wider than the
  one-standard-error rule there), 94-96 % at 50-200 with bounds 8-10 % tighter than it, since
  t_{K-1} approaches z as bursts accumulate. d = 1 (nothing significant) stays exactly 1 at
  level c, today's exact interval. Below about 20 expected failures no method can see the
  bursts it never observed, and with one or two bursts t is large (t_1 = 6.3 at 95 %):
  coverage there (56 % at 5, 80 % at 10) is in RESULTS.md, with bounds about 7.5 times the
  exact width.

- Heavy-tailed burst sizes (issue 26): with Pareto sizes of index 1.5 the design effect
  E[S^2]/E[S] is ~100 while a run sees 3-12, and the rule above covered 0.77 however many
  bursts accumulated. The second moment is what a heavy tail hides; the failure rate is burst
  frequency x mean size, a count and a first moment, so the upper bound is at least the
  product of Clopper-Pearson on the bursts (at c) and Student's t on the sizes (at
  1 - (1 - c) / 5), where the failures are dependent (d > 1). Pareto 1.5 covered 0.907-0.935
  at 8-387 bursts (0.76-0.82 before), short of 95 % - 1.5 points below ~400 bursts (round two
  below closes it); geometric
  bursts 0.96-0.99 at the price of 1.4-1.8x the width; independent failures keep the exact
  interval. Candidates and tables: RESULTS.md (issue 26). The coverage is stated in expected
  bursts (at least `STATED_BURSTS`); a verdict on fewer says what the run could have missed
  (`burst_frequency_upper`).

Round two of issue 26 (`slo.metrics.BOUNDS_METHOD` 2; RESULTS.md has the tables):
- Heavy tails: what round one missed were runs whose bursts happened to be small; the mean-size
  bound now adds 1.5 x the largest burst over the bursts seen (a burst beyond the largest of K
  comes about once in K + 1, and with a tail of index 1.5 is ~3 times it): Pareto 1.5 covers
  0.95-0.97 at 19-387 bursts. The coverage goal counts bursts of two failures or more: a run
  whose failures all came one at a time cannot be told from independent failures, and those
  runs were every miss at 4 expected bursts of any size (0.78).
- Small samples: `latent_design_effect`, a floor from the ranks' lag-1 correlation where the
  indicator's own estimate saw nothing (n = 200, rho 0.3-0.5).
- Slow episodes: `time_blocks`, ten blocks in time whose counts beyond q^ are tested for
  homogeneity; where they disagree (p < 1 %), d_u is at least the batch-means design effect of
  each candidate's indicator over them. A run cannot bound episodes it did not contain: every
  latency verdict says the longest episode its span would have caught
  (`longest_caught_episode`, `span_needed`, `spans_needed`).

Round three of issue 26 (`slo.metrics.BOUNDS_METHOD` 3; RESULTS.md has the tables):
- The FAIL side with slow episodes: what a FAIL's level claims is the lower bound's coverage over
  all runs. A run holding an episode holds more than the long run's share of slowness as often as
  not, and its lower bound covered 0.883 / 0.923 of all runs at n = 3,000 / 10,000. Where time
  blocks disagree the lower bound is now at most the calmest block's own
  (`calmest_block_lower`): 0.999 / 1.000. The price: on such runs a FAIL needs the calm part
  alone above the threshold.
- Failures that all came singly (the misses at 4 expected Pareto bursts of any size): given
  their number K, their positions are distributed alike under independent failures and under
  bursts that happened to be single, so every rule bounds such a run as a function of K, and one
  that keeps the exact bound within 5 % for independent failures gives it at most 1.05 x CP(K):
  that ceiling covers Pareto 1.5 at 4 expected bursts 0.785, as method 2 does. A prior mean
  burst size m for all-singles runs of K <= 4 (m x CP(K)) covers 0.985 with m = 2.6, but widens
  the bound of 1-4 expected independent failures 2.0-2.3 times on average (2.6 in the median):
  the goal's 5 % broken where a low-rate SLO is decided, near its minimum sample size;
  and with tail index 1.1 still covers 0.87: as the index falls to 1 a run of 4 expected bursts
  shows only singles with probability exp(-2) while the mean size grows without limit, so no
  rule exceeds 0.865 (`benchmarks/singles_tradeoff.py`). The goal stays stated in bursts of two
  or more; a verdict on singles says what it cannot exclude (`slo.metrics._singly`).
- Slow episodes the upper side cannot cover: the variance that matters is how many episodes fall
  in a run (gaps of mean 20,900 requests, 1.4 episodes expected in 30,000), a run-to-run design
  effect of ~370-400 at the true p95, while ten blocks of the run itself estimate 51-65 at 30,000
  on runs holding one short episode: blocks long enough to contain an episode are not long
  enough to contain the gaps between episodes, and no estimate from within one run sees them.

Round four of issue 26 (`slo.metrics.BOUNDS_METHOD` 4; RESULTS.md has the tables):
- Slow episodes counted: where time blocks disagree, `find_episodes` finds the slow stretches
  (windows of 100 requests at p95 whose count beyond the run's quantile is beyond chance at 1 %
  over the whole run, merged across one calm window), and the upper bound is at least the
  quantile of the run's calm and slow requests mixed at `episode_share_upper`: Clopper-Pearson
  on the k stretches seen (how often they start, at the verdict's level) x their mean length
  plus Student's t on the lengths and 1.5 x the longest over k, the burst rule's terms. Runs of
  30,000 holding one short episode (200-599 slow requests) covered 0.35 from above with method
  3; the episode count is what the ten blocks could not see. Runs whose blocks agree, or where
  no stretch stands out, keep method 3's bounds exactly; the lower bound is method 3's.

Cost: every candidate bound of `quantile_bounds_in_time_order` estimates a design effect, with
up to 1,000 lags when the run has slow stretches. The lags come from one batched FFT over rows
of 1,024 requests (`_autocovariance_sums`), and the search over candidates interpolates rather
than halves (`_first_holding`): under 1 s of CPU for both bounds at 10^6 requests with slow
stretches, where a pass per lag and bisection took 46-430 s (RESULTS.md, issue 26).

Binomial tail probabilities come from the regularized incomplete beta function (continued
fraction, Numerical Recipes `betacf`), which takes a real n, so n in the millions or an
effective n of 312.7 costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
import polars as pl

_EPSILON = 1e-15
_TINY = 1e-300


def quantile_bounds(
    n: int, q: float, confidence: float, effective_n: float | None = None
) -> tuple[int | None, int | None]:
    """1-based ranks (r, s): x(r) bounds the q-quantile from below and x(s) from above, each at
    one-sided level `confidence`, for n samples worth `effective_n` independent ones (default n).

    None for a side the sample is too small to bound: with n = 50 nothing bounds p95 from
    above at 95 %, since all 50 samples fall below it with probability 0.95^50 > 5 %.
    """
    size = float(n if effective_n is None else min(effective_n, n))
    scale = n / size
    tail = 1.0 - confidence
    last = math.ceil(size) - 1
    # In effective units: low is the largest k with P(B <= k) <= tail, high the smallest with
    # P(B <= high) >= confidence; ranks k + 1 scaled to n, rounded outwards (conservative).
    low = _last_k(lambda k: binomial_cdf(k, size, q) <= tail, last)
    high = _first_k(lambda k: binomial_cdf(k, size, q) >= confidence, last)
    lower = max(1, math.floor((low + 1) * scale * (1 + 1e-12))) if low is not None else None
    upper = math.ceil((high + 1) * scale * (1 - 1e-12)) if high is not None else None
    return lower, upper if upper is None or upper <= n else None


def quantile_bounds_in_time_order(
    values: pl.Series,
    ordered: pl.Series,
    q: float,
    confidence: float,
    dependence: Dependence,
    floor: float = 1.0,
    blocks: TimeBlocks | None = None,
) -> tuple[int | None, int | None]:
    """Ranks (r, s) of one-sided bounds on the q-quantile of `values` (in time order; `ordered`
    is them sorted), by inverting the test at each candidate bound u = x(s).

    x(s) bounds the quantile from above when the count at or below it, s of n, would be unlikely
    were F(u) < q: P(B <= s/d_u - 1) >= c for B ~ Binomial(n/d_u, q), with d_u the design effect
    of the indicator 1{x_t <= u} itself. Near the quantile d_u is `dependence` (measured at q^),
    but a burst of slow requests (a warm-up, a pause) that makes every sample above q^ one
    cluster says nothing about a bound far above it, where the indicator no longer sees the
    burst. With no dependence at q^ (d = 1) this is exactly `quantile_bounds`.

    `floor`: a lower limit on every d_u (`latent_design_effect`), for dependence the indicator's
    own estimate cannot see in a small sample. `blocks`: time blocks that disagreed beyond chance
    (`time_blocks`): d_u is then at least the batch-means design effect of 1{x_t <= u} over
    those blocks (raised for their number), measured at u too, so a warm-up far below a bound
    does not hold it back.
    """
    n = values.len()
    low, high = quantile_bounds(n, q, confidence)
    by_blocks = blocks is not None and blocks.disagree
    if dependence.design_effect == 1.0 and floor <= 1.0 and not by_blocks:
        return low, high
    cdf_at = _count_test(values.to_numpy(), ordered.to_numpy(), q, floor, blocks if by_blocks else None)
    # Each candidate costs a dependence estimate (~25 ms at n = 10^6), so the searches start
    # from the ranks that d at q^ gives and interpolate on the normal scale (5-10 candidates
    # where bisection took ~20 per side); the answer is the same rank while the test is monotone.
    guess_low, guess_high = quantile_bounds(n, q, confidence, n / dependence.design_effect)
    upper = _upper_rank(cdf_at, n, high, guess_high, confidence) if high is not None else None
    lower = _lower_rank(cdf_at, low, guess_low, confidence) if low is not None else None
    return lower, upper


def _count_test(
    in_time: np.ndarray, sorted_values: np.ndarray, q: float, floor: float, blocks: TimeBlocks | None
) -> Callable[[int], float]:
    """P(B <= s/d_u - 1) for B ~ Binomial(n/d_u, q) at u = x(s), as a function of the rank s: the
    count test of `quantile_bounds_in_time_order`, d_u the design effect of 1{x_t <= u} (at least
    `floor`, and at least the blocks' batch-means one where `blocks` are given)."""
    n = in_time.size

    def cdf_at(rank: int) -> float:
        within = in_time <= sorted_values[rank - 1]
        d = max(serial_dependence(within).design_effect, floor)
        if blocks is not None:
            d = max(d, _batch_means(within, blocks.blocks) * blocks.raised)
        return binomial_cdf(rank / d - 1.0, n / d, q)

    return cdf_at


def _z_of(probability: float) -> float:
    """The normal quantile, clipped: nearly linear in the rank near a bound, which is what the
    search interpolates."""
    return NormalDist().inv_cdf(min(max(probability, 1e-12), 1.0 - 1e-12))


def _upper_rank(
    cdf_at: Callable[[int], float], n: int, high: int, guess: int | None, confidence: float
) -> int | None:
    """The smallest rank whose count test reaches `confidence` (None when even x(n) does not);
    ranks below the independent-sample bound `high` never pass: d >= 1 only widens."""

    def bounds_above(rank: int) -> tuple[bool, float]:
        probability = cdf_at(rank)
        return probability >= confidence, _z_of(probability) - _z_of(confidence)

    holds, z = bounds_above(n)
    return _first_holding(bounds_above, (high - 1, None), (n, z), guess) if holds else None


def _lower_rank(cdf_at: Callable[[int], float], low: int, guess: int | None, confidence: float) -> int | None:
    """The largest rank whose count test stays at or below 1 - `confidence` (None when even x(1)
    does not); ranks above the independent-sample bound `low` never pass either."""

    def fails_below(rank: int) -> tuple[bool, float]:
        probability = cdf_at(rank)
        return probability > 1.0 - confidence, _z_of(probability) - _z_of(1.0 - confidence)

    fails, z = fails_below(1)
    return None if fails else _first_holding(fails_below, (1, z), (low + 1, None), guess) - 1


def _first_holding(
    check: Callable[[int], tuple[bool, float]],
    below: tuple[int, float | None],
    above: tuple[int, float | None],
    guess: int | None,
) -> int:
    """The smallest rank in (below, above] where `check` holds, for a check that fails up to a
    rank and holds from it on: it fails at below[0] and holds at above[0] (each with its score,
    or None for an end taken as known and never checked). check(k) is (holds, score), the score
    increasing in k and crossing 0 near the switch: the next rank is where the scores of the
    bracket interpolate to 0 (then its neighbour, to close the bracket when the step was exact),
    falling back to halving the bracket when an interpolated step did not halve it."""
    (low, low_score), (high, high_score) = below, above
    probe, neighbour, halve = guess, None, False
    while high - low > 1:
        stepped = probe is None
        if neighbour is not None and low < neighbour < high:
            probe, stepped = neighbour, False
        elif probe is None or not low < probe < high:
            stepped = True
            if halve or low_score is None or high_score is None or high_score <= low_score:
                probe = (low + high) // 2
            else:
                probe = low + round((high - low) * -low_score / (high_score - low_score))
                probe = min(max(probe, low + 1), high - 1)
        width = high - low
        holds, score = check(probe)
        if holds:
            high, high_score, neighbour = probe, score, probe - 1
        else:
            low, low_score, neighbour = probe, score, probe + 1
        if stepped:
            halve = high - low > width / 2
        else:
            neighbour = None
        probe = None
    return high


def clopper_pearson(failures: float, n: float, confidence: float) -> tuple[float, float]:
    """Two-sided exact interval for a binomial proportion (failures of n; real counts allowed)."""
    tail = (1.0 - confidence) / 2.0
    # lower: P(B >= x | p) = tail; upper: P(B <= x | p) = tail. Both tails fall as p moves away.
    lower = 0.0 if failures == 0 else _solve_p(lambda p: 1.0 - binomial_cdf(failures - 1, n, p) - tail)
    return lower, _upper_bound(failures, n, tail)


def _upper_bound(failures: float, n: float, tail: float) -> float:
    """Clopper-Pearson's upper end alone: the p with P(B <= failures | p) = tail."""
    return 1.0 if failures == n else _solve_p(lambda p: tail - binomial_cdf(failures, n, p))


# The separate bound on bursts and their sizes (`burst_rate_upper`): the frequency at the
# verdict's level c, the mean size at 1 - (1 - c) / 5 (0.99 for 0.95), chosen by simulation
# (benchmarks/burst_coverage.py, RESULTS.md).
_SIZE_TAIL_SHARE = 0.2
# The sizes a run did not see (issue 26, round two): with a tail of index alpha a burst beyond the
# largest of K seen comes about once in K + 1, and is alpha / (alpha - 1) times the largest on
# average (3 at alpha 1.5), so the mean-size bound adds this many largest sizes over K.
_UNSEEN_TAIL = 1.5
# Where the error-rate coverage is stated: runs that expect at least this many bursts. A run
# that saw fewer says so in its verdict, with what it could have missed.
STATED_BURSTS = 4


def rate_bounds(
    failures: int,
    n: int,
    confidence: float,
    design_effect: float = 1.0,
    bursts: int | None = None,
    burst_sizes: BurstSizes | None = None,
    *,
    heavy_tails: bool = True,
) -> tuple[float, float]:
    """One-sided lower and upper bounds at `confidence` on the failure probability.

    Clopper-Pearson on failures / d of n / d requests: bursts make the failures worth fewer
    independent ones. d = 1 is the exact interval (the two bounds of the 2c - 1 interval).
    With d > 1 estimated from `bursts` runs of failures, the level is raised to where the normal
    quantile equals Student's t on bursts - 1 degrees of freedom (at least 1): d is a variance
    estimated from that many clusters, as in a cluster-robust interval. With two bursts or more
    and their `burst_sizes`, the upper bound is at least `burst_rate_upper`, which does not rest
    on the sizes' second moment (heavy-tailed sizes hide it). `heavy_tails=False` is the rule
    before issue 26's second round (`BOUNDS_METHOD` 1), whose mean-size bound was Student's t alone.
    """
    level = confidence if design_effect == 1.0 or bursts is None else _t_level(confidence, max(bursts - 1, 1))
    low, high = clopper_pearson(failures / design_effect, n / design_effect, 2.0 * level - 1.0)
    # Only where the failures are dependent (d > 1): independent ones at 0.4 % and more pair up
    # by chance, and the size term would widen today's exact interval by 4-7 %.
    if design_effect > 1.0 and bursts is not None and bursts >= 2 and burst_sizes is not None:
        high = max(
            high, min(1.0, burst_rate_upper(bursts, n, burst_sizes, confidence, heavy_tails=heavy_tails))
        )
    return low, high


def burst_rate_upper(
    bursts: int, n: int, sizes: BurstSizes, confidence: float, *, heavy_tails: bool = True
) -> float:
    """Failure rate = burst frequency x mean burst size, each bounded from above on its own.

    The frequency by Clopper-Pearson on `bursts` starts in n requests at `confidence`, the mean
    size by Student's t on the sizes seen, at a level that leaves a fifth of the tail. The
    design effect is E[S^2]/E[S], which a run with heavy-tailed sizes (timeout cascades,
    retries) underestimates in most runs; the mean size is a first moment, and the slack of the
    count bound covers most runs whose sizes fell short. Single failures (every size 1) give
    exactly Clopper-Pearson on the failures.
    """
    frequency = _upper_bound(bursts, n, 1.0 - confidence)
    size_level = 1.0 - (1.0 - confidence) * _SIZE_TAIL_SHARE
    spread = t_quantile(size_level, bursts - 1) * sizes.sd / math.sqrt(bursts)
    tail = _UNSEEN_TAIL * sizes.largest / bursts if heavy_tails else 0.0
    return frequency * (sizes.mean + spread + tail)


def burst_frequency_upper(bursts: int, n: int, confidence: float) -> float:
    """Upper bound at `confidence` on the share of requests that start a burst of failures: a run
    that saw `bursts` cannot exclude bursts recurring this often, however large they are."""
    return _upper_bound(bursts, n, 1.0 - confidence)


def _t_level(confidence: float, degrees: int) -> float:
    """The normal CDF at Student's t quantile: Phi(t_nu^-1(c)), the level whose z is that t."""
    return NormalDist().cdf(t_quantile(confidence, degrees))


def t_quantile(confidence: float, degrees: float) -> float:
    """Student's t quantile t_nu^-1(c) for c > 1/2, by bisection."""
    # P(T > t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2 falls as t grows; solve it = 1 - c.
    tail = 1.0 - confidence
    low, high = 0.0, 1e6
    for _ in range(200):
        middle = (low + high) / 2.0
        if regularized_beta(degrees / 2.0, 0.5, degrees / (degrees + middle * middle)) / 2.0 > tail:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


def zero_failure_sample_size(threshold: float, confidence: float, design_effect: float = 1.0) -> int:
    """Requests without a single failure needed before the upper bound reaches `threshold`.

    With none failing the one-sided Clopper-Pearson upper bound is 1 - (1 - c)^(1/n_eff).
    """
    return math.ceil(design_effect * math.log(1.0 - confidence) / math.log1p(-threshold))


def quantile_upper_sample_size(q: float, confidence: float, design_effect: float = 1.0) -> int:
    """Smallest n whose largest sample bounds the q-quantile from above: q^n_eff <= 1 - c."""
    return math.ceil(design_effect * math.log(1.0 - confidence) / math.log(q))


@dataclass(frozen=True)
class Dependence:
    """Serial dependence of a 0/1 indicator in time order, and what it does to the sample size."""

    lag1_autocorrelation: float | None
    design_effect: float
    effective_n: float
    # Runs of 1s (bursts of failures) where `failure_dependence` counted them: the clusters d
    # was estimated from, for rate_bounds' t level, and their sizes.
    bursts: int | None = None
    burst_sizes: BurstSizes | None = None


@dataclass(frozen=True)
class BurstSizes:
    """Sizes of the runs of consecutive failures: mean, sample standard deviation (0 for one
    run) and the largest."""

    mean: float
    sd: float
    largest: int
    multiple: int = 0
    """Runs of two failures or more: the bursts a run can tell from independent failures."""


_MAX_LAG = 1000


def _autocovariance_sums(centred: np.ndarray, max_lag: int) -> np.ndarray:
    """sum_t c_t c_{t+k} for k = 0..max_lag, the same sums as a pass per lag, in O(n log max_lag).

    One FFT of the whole series costs ~0.17 s at n = 10^6, and a pass per lag 1,000 passes when
    the dependence is long (slow stretches: 46 s for a p95 bound). Instead the series is cut into
    rows of B > max_lag values; every pair at lag k <= max_lag starts in a row b and ends in b or
    b + 1, and the spectrum of [row b, row b + 1] is F_b + (-1)^f F_{b+1}, so one batched FFT of
    length 2B per row, summed over rows before a single inverse, gives all lags (~25 ms at 10^6).
    """
    width = 1 << max(max_lag, 1).bit_length()  # a power of two above max_lag
    rows = -(-centred.size // width)
    padded = np.zeros((rows + 1) * width)
    padded[: centred.size] = centred
    spectra = np.fft.rfft(padded.reshape(rows + 1, width), 2 * width, axis=1)
    sign = np.where(np.arange(width + 1) % 2 == 0, 1.0, -1.0)
    cross = np.einsum("ij,ij->j", spectra[:-1].conj(), spectra[:-1] + sign * spectra[1:])
    return np.fft.irfft(cross, 2 * width)[: max_lag + 1]


def _as_floats(indicator: pl.Series | np.ndarray) -> np.ndarray:
    array = indicator.to_numpy() if isinstance(indicator, pl.Series) else indicator
    return np.asarray(array, dtype=np.float64)


def _point_dependence(indicator: pl.Series | np.ndarray) -> Dependence:
    """Design effect d = max(1, 1 + 2 sum_k w(k / M) rho_k) with Politis' flat-top window.

    M = min(2m, m + K_n), m the first lag after which K_n = `max(5, ceil(sqrt(log10 n)))`
    autocorrelations in a row are insignificant (|rho| < 2 sqrt(log10(n) / n)); w is 1 up to
    M/2 and falls linearly to 0 at M. No significant lag: d = 1 exactly, the independent-sample interval. A constant
    indicator (no failure at all) has no autocorrelation: d = 1, n_eff = n.
    """
    values = _as_floats(indicator)
    n = values.size
    centred = values - values.mean() if n else values
    variance = float(centred @ centred) if n else 0.0
    if n < 3 or variance <= 0.0:
        return Dependence(None, 1.0, float(n))
    max_lag = min(n // 4, _MAX_LAG)
    if max_lag < 1:
        lag1 = float(centred[1:] @ centred[:-1]) / variance
        return Dependence(lag1, 1.0, float(n))
    run = max(5, math.ceil(math.sqrt(math.log10(n))))
    significant = 2.0 * math.sqrt(math.log10(n) / n)
    rho = (_autocovariance_sums(centred, max_lag)[1:] / variance).tolist()
    m: int | None = None
    quiet = 0
    for lag, value in enumerate(rho, start=1):
        quiet = quiet + 1 if abs(value) < significant else 0
        if quiet == run:
            m = lag - run
            break
    # Politis' M = 2m, but not past the K_n quiet lags that ended the search: beyond them the
    # estimates are noise, and the coverage in RESULTS.md was measured with this window.
    window = min(2 * m, m + run) if m is not None else len(rho)
    weighted = sum(
        rho[k - 1] * (1.0 if k <= window / 2 else 2.0 * (1.0 - k / window)) for k in range(1, window + 1)
    )
    design_effect = max(1.0, 1.0 + 2.0 * weighted)
    return Dependence(rho[0], design_effect, n / design_effect)


def serial_dependence(indicator: pl.Series | np.ndarray) -> Dependence:
    """`_point_dependence`, its design effect raised by its own standard error when above 1
    (what the quantile bounds use)."""
    values = _as_floats(indicator)
    dependence = _point_dependence(values)
    design_effect = dependence.design_effect
    if design_effect == 1.0:
        return dependence
    # d is a ratio estimated from the runs of the rarer outcome, a handful when the outcome is
    # rare: add its standard error, about d / sqrt(effective count of that outcome).
    ones = float(values.sum())
    rarer = min(ones, values.size - ones)
    design_effect *= 1.0 + 1.0 / math.sqrt(rarer / design_effect)
    return Dependence(dependence.lag1_autocorrelation, design_effect, values.size / design_effect)


def failure_dependence(failed: pl.Series | np.ndarray) -> Dependence:
    """`_point_dependence` of the failure indicator with its bursts (runs of failures) counted
    and sized, for `rate_bounds`, which allows for d's error by a t level on the bursts and by
    a bound on burst frequency and size instead."""
    flags = _as_floats(failed) > 0.0
    edges = np.diff(flags.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    sizes = (np.flatnonzero(edges < 0) - np.flatnonzero(edges > 0)).astype(np.float64)
    burst_sizes = (
        BurstSizes(
            float(sizes.mean()),
            float(sizes.std(ddof=1)) if sizes.size > 1 else 0.0,
            int(sizes.max()),
            int((sizes > 1).sum()),
        )
        if sizes.size
        else None
    )
    return replace(_point_dependence(flags), bursts=int(sizes.size), burst_sizes=burst_sizes)


def latent_design_effect(values: pl.Series | np.ndarray, q: float) -> float:
    """A lower limit on the design effect of 1{x_t <= x_q} from the serial correlation of all the
    values, for samples too small for the indicator's own estimate (issue 26).

    At n = 200 the indicator's lag-1 autocorrelation has a standard error near 0.07 and must
    pass 0.21 to count, so latencies correlated at rho 0.5 gave d = 1 in most runs (lower bound
    covered 0.92-0.93). The ranks of every value carry far more: their lag-1 correlation r_s
    (Spearman's, in time order), when above 2 / sqrt(n), is taken as a Gaussian AR(1) with
    rho = 2 sin(pi r_s / 6), whose indicator at q has lag-k correlation
    (Phi_2(z_q, z_q; rho^k) - q^2) / (q (1 - q)). 1 when the ranks show no correlation.
    """
    x = _as_floats(values)
    n = x.size
    if n < 20:
        return 1.0
    # Tied values share their average rank: a run of equal latencies says nothing about order.
    ranks = pl.Series(x).rank("average").to_numpy().astype(np.float64)
    centred = ranks - ranks.mean()
    variance = float(centred @ centred)
    spearman = float(centred[1:] @ centred[:-1]) / variance if variance > 0.0 else 0.0
    if spearman <= 2.0 / math.sqrt(n):
        return 1.0
    rho = min(2.0 * math.sin(math.pi * spearman / 6.0), _MAX_LATENT_RHO)
    z = NormalDist().inv_cdf(q)
    total, correlation = 0.0, rho
    for _ in range(_MAX_LAG):
        if correlation < 1e-4:
            break
        total += (_normal_orthant(z, correlation) - q * q) / (q * (1.0 - q))
        correlation *= rho
    return 1.0 + 2.0 * total


_MAX_LATENT_RHO = 0.95


def _normal_orthant(z: float, rho: float) -> float:
    """P(Z1 <= z, Z2 <= z) for standard normals correlated rho >= 0 (Plackett's identity:
    d/d rho of it is the bivariate density at (z, z))."""
    t = np.linspace(0.0, rho, 201)
    density = np.exp(-z * z / (1.0 + t)) / (2.0 * math.pi * np.sqrt(1.0 - t * t))
    step = rho / 200.0
    return NormalDist().cdf(z) ** 2 + float(step * (density.sum() - (density[0] + density[-1]) / 2.0))


@dataclass(frozen=True)
class TimeBlocks:
    """A run cut into equal blocks in time order, and whether its q-quantile stayed put: the
    homogeneity diagnostic for slow episodes (GC pauses, a noisy neighbour, a rescheduled pod)."""

    blocks: int
    size: int
    lowest: float
    """The smallest block's own q-quantile."""
    highest: float
    """The largest block's own q-quantile."""
    p_value: float
    """How likely blocks disagree this much (counts beyond the run's q-quantile per block) with
    no dependence longer than the lag-1 correlation explains."""
    design_effect: float
    """Batch-means design effect of 1{x_t <= x_q} over the blocks, raised for their number
    (Student's t on blocks - 1); 1 when the blocks agree."""
    raised: float
    """(t_{B-1}(c) / z(c))^2: what a batch-means design effect is multiplied by for B blocks."""

    @property
    def disagree(self) -> bool:
        return self.p_value < HOMOGENEITY_LEVEL


# Blocks disagree "beyond chance" below this p-value; runs without episodes cross it 1 % of the time.
HOMOGENEITY_LEVEL = 0.01
# The number of time blocks, and the fewest values each holds beyond the quantile.
TIME_BLOCKS = 10
_BEYOND_PER_BLOCK = 10


def time_blocks(
    values: pl.Series | np.ndarray, q: float, value: float, confidence: float
) -> TimeBlocks | None:
    """`TIME_BLOCKS` equal blocks of `values` (in time order) against the run's q-quantile
    `value`; None when a block would expect fewer than 10 values beyond it.

    The counts beyond `value` per block would have variance m q (1 - q) (1 + r) / (1 - r) under
    dependence no longer than lag 1 (r: the indicator's lag-1 autocorrelation); the sum of
    squared standardized deviations is then about chi-square on blocks - 1 degrees of freedom
    (Wilson-Hilferty). Blocks of n / 10 hold a whole episode of 200-2,000 requests from
    n = 20,000 on, so where they disagree the batch-means design effect sees what lags up to
    1,000 can miss; it is raised by (t_{B-1}(c) / z(c))^2, the t level on B - 1 blocks."""
    x = _as_floats(values)
    n = x.size
    size = n // TIME_BLOCKS
    if size * (1.0 - q) < _BEYOND_PER_BLOCK:
        return None
    used = x[: size * TIME_BLOCKS].reshape(TIME_BLOCKS, size)
    within = used <= value
    share = float(within.mean())
    if share in (0.0, 1.0):
        return None
    short = _lag1_inflation(within.ravel(), share)
    counts = within.sum(axis=1)
    spread = float(((counts - size * share) ** 2).sum()) / (size * share * (1.0 - share))
    degrees = TIME_BLOCKS - 1
    statistic = spread / short / degrees
    wilson = (statistic ** (1.0 / 3.0) - (1.0 - 2.0 / (9.0 * degrees))) / math.sqrt(2.0 / (9.0 * degrees))
    p_value = 1.0 - NormalDist().cdf(wilson)
    quantiles = np.quantile(used, q, axis=1)
    raise_to_t = (t_quantile(confidence, degrees) / NormalDist().inv_cdf(confidence)) ** 2
    design_effect = max(1.0, spread / degrees) * raise_to_t if p_value < HOMOGENEITY_LEVEL else 1.0
    return TimeBlocks(
        TIME_BLOCKS, size, float(quantiles.min()), float(quantiles.max()), p_value, design_effect, raise_to_t
    )


def _lag1_inflation(indicator: np.ndarray, share: float) -> float:
    """(1 + r) / (1 - r), at least 1, for the lag-1 autocorrelation r of a 0/1 series whose mean
    is `share` (0 < share < 1): how much dependence no longer than lag 1 raises the variance of
    its counts; infinite when r is 1."""
    flags = indicator.astype(np.float64) - share
    lag1 = float(flags[1:] @ flags[:-1]) / float(flags @ flags)
    return max(1.0, (1.0 + lag1) / (1.0 - lag1)) if lag1 < 1.0 else math.inf


def calmest_block_lower(
    values: pl.Series | np.ndarray, q: float, confidence: float, blocks: TimeBlocks
) -> float | None:
    """The lowest of the blocks' own lower bounds on their q-quantile (each block's order
    statistics on its effective n, d measured at the block's q-quantile): the FAIL side's bound
    where blocks disagree (`BOUNDS_METHOD` 3). None when a block is too small to bound.

    A run holding a slow episode holds more than its long-run share of slowness as often as not,
    so its own quantile lies above the long-run one and a lower bound on it is no lower bound on
    the service's (issue 26: unconditional lower coverage 0.88 at n = 3,000 and 0.92 at 10,000).
    Episodes only slow a block down; the calmest block's quantile is at or below the long-run
    one whenever one block missed every episode, so its lower bound is."""
    x = _as_floats(values)
    lowest = math.inf
    for block in x[: blocks.size * blocks.blocks].reshape(blocks.blocks, blocks.size):
        ordered = np.sort(block)
        here = float(np.quantile(ordered, q))
        dependence = serial_dependence(block <= here)
        low, _ = quantile_bounds(blocks.size, q, confidence, dependence.effective_n)
        if low is None:
            return None
        lowest = min(lowest, float(ordered[low - 1]))
    return lowest


@dataclass(frozen=True)
class Episodes:
    """Slow stretches found in a run (`find_episodes`): each a range [start, end) of positions
    in time order, a whole number of windows long."""

    window: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def lengths(self) -> np.ndarray:
        return np.array(self.ends, dtype=np.float64) - np.array(self.starts, dtype=np.float64)

    def inside(self, n: int) -> np.ndarray:
        """A mask of the n positions that lie in an episode."""
        mask = np.zeros(n, bool)
        for start, end in zip(self.starts, self.ends, strict=True):
            mask[start:end] = True
        return mask


# Episode detection (`find_episodes`, `BOUNDS_METHOD` 4): windows expecting this many values beyond
# the run's quantile, at least `_MIN_WINDOW` long; a window is slow when its count beyond would
# come by chance in homogeneous data with probability `EPISODE_FALSE_DETECTION` over all the
# run's windows together; slow windows at most `_EPISODE_GAP` calm windows apart are one episode.
EPISODE_FALSE_DETECTION = 0.01
_WINDOW_BEYOND = 5.0
_MIN_WINDOW = 20
_EPISODE_GAP = 1


def find_episodes(values: pl.Series | np.ndarray, q: float, value: float) -> Episodes:
    """Slow stretches of `values` (in time order): windows whose count beyond the run's q-quantile
    `value` is beyond chance, merged across gaps of `_EPISODE_GAP` windows.

    Under homogeneity a window of w counts Binomial(w, p) beyond (p the run's share beyond),
    its variance raised by (1 + r) / (1 - r) for the indicator's lag-1 autocorrelation r as in
    `time_blocks`; a window is slow at level `EPISODE_FALSE_DETECTION` / windows (Bonferroni),
    so a homogeneous run shows an episode at most that often. One pass over windows: linear."""
    x = _as_floats(values)
    window = max(_MIN_WINDOW, math.ceil(_WINDOW_BEYOND / (1.0 - q)))
    windows = x.size // window
    beyond = x > value
    share = float(beyond.mean()) if x.size else 0.0
    if windows < 2 or share in (0.0, 1.0):
        return Episodes(window, (), ())
    short = _lag1_inflation(beyond, share)
    tail = EPISODE_FALSE_DETECTION / windows
    threshold = _first_k(lambda c: 1.0 - binomial_cdf(c / short - 1.0, window / short, share) <= tail, window)
    if threshold is None or math.isinf(short):
        return Episodes(window, (), ())
    counts = beyond[: windows * window].reshape(windows, window).sum(axis=1)
    slow = np.flatnonzero(counts >= max(threshold, 1))
    if slow.size == 0:
        return Episodes(window, (), ())
    breaks = np.flatnonzero(np.diff(slow) > _EPISODE_GAP + 1)
    first = slow[np.r_[0, breaks + 1]]
    last = slow[np.r_[breaks, slow.size - 1]]
    return Episodes(window, tuple(int(i) * window for i in first), tuple((int(i) + 1) * window for i in last))


# How the episode rule bounds the mean episode length (`episode_share_upper`): the mean seen,
# Student's t on the lengths at the size level of `burst_rate_upper`, and this many longest
# lengths over the count (an episode beyond the longest of k comes about once in k + 1).
EPISODE_UNSEEN_TAIL = 1.5


def episode_share_upper(
    episodes: Episodes, n: int, confidence: float, unseen_tail: float = EPISODE_UNSEEN_TAIL
) -> float:
    """Upper bound at `confidence` on the long-run share of slow time: how often episodes start
    (Clopper-Pearson on the k seen in n, Poisson-like for a rare start) x how long they last (the
    mean length seen, plus Student's t on the lengths where k >= 2, plus `unseen_tail` x the
    longest over k), as `burst_rate_upper` bounds failures in bursts. At most 1; 0 for none."""
    k = episodes.count
    if k == 0:
        return 0.0
    lengths = episodes.lengths
    frequency = burst_frequency_upper(k, n, confidence)  # how often they start, as failure bursts
    size_level = 1.0 - (1.0 - confidence) * _SIZE_TAIL_SHARE
    spread = t_quantile(size_level, k - 1) * float(lengths.std(ddof=1)) / math.sqrt(k) if k >= 2 else 0.0
    return min(1.0, frequency * (float(lengths.mean()) + spread + unseen_tail * float(lengths.max()) / k))


def episode_mixture_quantile(
    values: pl.Series | np.ndarray, episodes: Episodes, share: float, q: float
) -> float:
    """The q-quantile of (1 - share) F_calm + share F_slow, F_calm the empirical distribution of
    the values outside `episodes` and F_slow of those inside: the run's quantile had slow time
    covered `share` of it."""
    x = _as_floats(values)
    inside = episodes.inside(x.size)
    slow = int(inside.sum())
    share = min(max(share, 0.0), 1.0)
    if slow == 0 or slow == x.size:
        return float(np.quantile(x, q))
    order = np.argsort(x, kind="stable")
    weights = np.where(inside, share / slow, (1.0 - share) / (x.size - slow))[order]
    at = int(np.searchsorted(np.cumsum(weights), q * (1.0 - 1e-12)))
    return float(x[order[min(at, x.size - 1)]])


def _batch_means(within: np.ndarray, blocks: int) -> float:
    """Batch-means design effect of a 0/1 series over `blocks` equal blocks (the tail dropped):
    the variance of the block counts over the binomial one; at least 1."""
    size = within.size // blocks
    counts = within[: size * blocks].reshape(blocks, size).sum(axis=1).astype(np.float64)
    share = float(counts.sum()) / (size * blocks)
    if share <= 0.0 or share >= 1.0:
        return 1.0
    return max(1.0, float(counts.var(ddof=1)) / (size * share * (1.0 - share)))


# Slow episodes a verdict speaks of: stretches that cover this share of the time, starting at
# random (Poisson), each as long as L. A run of span T misses all of them with probability
# exp(-(T + L) s / L) (an episode that starts within L before the run still reaches into it);
# k spans far apart in time, exp(-k (T + L) s / L).
EPISODE_SHARE = 0.05


def longest_caught_episode(spans: Sequence[float], confidence: float) -> float:
    """The longest episode (covering `EPISODE_SHARE` of the time) that spans of these lengths,
    far apart in time, contain at least one of with probability `confidence`: L with
    sum_i (T_i + L) s / L = -ln(1 - c). Infinite when the spans are so many that any length is
    caught (k s >= -ln(1 - c): 60 spans at 5 % and 95 %)."""
    need = -math.log(1.0 - confidence)
    rest = need - len(spans) * EPISODE_SHARE
    return math.inf if rest <= 0.0 else EPISODE_SHARE * float(sum(spans)) / rest


def spans_needed(episode: float, span: float, confidence: float) -> int:
    """How many spans of length `span`, far apart in time, catch an episode as long as `episode`
    at `confidence`."""
    return max(1, math.ceil(-math.log(1.0 - confidence) * episode / (EPISODE_SHARE * (span + episode))))


def span_needed(episode: float, confidence: float) -> float:
    """The length of one span that catches an episode as long as `episode` at `confidence`."""
    return episode * (-math.log(1.0 - confidence) / EPISODE_SHARE - 1.0)


def binomial_cdf(k: float, n: float, p: float) -> float:
    """P(B <= k) for B ~ Binomial(n, p), as I_{1-p}(n - k, k + 1); real k and n allowed."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(n - k, k + 1, 1.0 - p)


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) by the modified Lentz method."""
    max_terms = 1000 + int(20 * math.sqrt(max(a, b)))
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, max_terms):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1.0) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1.0)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            step = c * d
            result *= step
        if abs(step - 1.0) < _EPSILON:
            return result
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def _solve_p(increasing: Callable[[float], float]) -> float:
    """The p in [0, 1] where a function increasing in p crosses zero, by bisection."""
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if increasing(middle) < 0.0:
            low = middle
        else:
            high = middle
        if high - low < 1e-17:
            break
    return (low + high) / 2.0


def _last_k(holds: Callable[[int], bool], last: int) -> int | None:
    """The largest k in [0, last] where monotone `holds` (true, then false) is true."""
    if not holds(0):
        return None
    low, high = 0, last
    while low < high:
        middle = (low + high + 1) // 2
        if holds(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _first_k(holds: Callable[[int], bool], last: int) -> int | None:
    """The smallest k in [0, last] where monotone `holds` (false, then true) is true."""
    if not holds(last):
        return None
    low, high = 0, last
    while low < high:
        middle = (low + high) // 2
        if holds(middle):
            high = middle
        else:
            low = middle + 1
    return low
