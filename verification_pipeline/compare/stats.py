"""Two-sample statistics for "is this RC slower than the baseline?", on time-ordered samples.

Requests under load are serially correlated (lag-1 autocorrelation 0.2-0.3 on real k6 runs), so
every interval here scales its variance by a variance-inflation factor estimated from the
sample itself, in time order: n_eff = n / (1 + 2 * sum of autocorrelations), the sum taken
over Geyer's initial positive sequence (pairs of lags summed while positive). With
independent samples n_eff ~ n and the intervals are the textbook ones.

- `shift`: Hodges-Lehmann estimate of the location shift (median of all pairwise
  differences current - baseline) with the interval from inverting the Mann-Whitney test, and
  the test's p-value. Var(U) under H0 is (nm)^2 (1/(12 n_eff_x) + 1/(12 n_eff_y)), the
  placement variance of each sample inflated by its own rank autocorrelation. Never O(nm):
  U(d) = #{x_i - d > y_j} is counted with a sorted search in O(n log m), and the estimate and
  both bounds are the roots of U(d) = target (false position with bisection steps). Exact
  for 100k+ rows.
- `quantile_ratio`: ratio of the q-quantiles (k6's type 7) with a delta-method interval on
  the log scale; each side's standard error comes from Woodruff's interval (the empirical
  quantiles at q -/+ z sqrt(q(1-q)/n_eff)), n_eff from the indicator series 1[x_t <= Q(q)].
- `rate_difference`: difference of two failure rates with Newcombe's hybrid score interval
  (Wilson intervals of each rate, on n_eff of its failure indicator series: failures come in
  bursts), and the pooled two-proportion z test for its p-value.

Why this method and not a moving-block bootstrap of the p95 difference: both keep their
coverage under AR(1) rho 0.3 once dependence is accounted for, but the bootstrap costs
B resamples x a sort of n (seconds per SLO at 100k rows) and its block length is a second
tuning knob, while this costs a few sorted searches (tests/compare/test_stats.py checks the
coverage by simulation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from verification_pipeline.quantile import quantile_type7
from verification_pipeline.scalars import float_of

_MAX_LAG = 500
_LAG_BATCH = 16
_MAX_STEPS = 200
_RESOLUTION_MS = 1e-4
"""Root finding stops within this of the root: figures are shown to 1 us, not to the last bit."""


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval at the comparison's confidence; None where a side cannot be bounded."""

    estimate: float
    lower: float | None
    upper: float | None

    def as_json(self) -> dict[str, float | None]:
        return {"estimate": self.estimate, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class ShiftResult:
    shift: Estimate
    p_value: float
    effect_size: float
    """Cliff's delta: P(current > baseline) - P(current < baseline), in [-1, 1]."""
    n_eff_current: float
    n_eff_baseline: float


@dataclass(frozen=True)
class RateResult:
    difference: Estimate
    """current rate - baseline rate, as fractions."""
    p_value: float
    effect_size: float
    """Cohen's h: 2 asin sqrt(p_current) - 2 asin sqrt(p_baseline)."""
    n_eff_current: float
    n_eff_baseline: float


def z_of(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def effective_n(series: pl.Series) -> float:
    """n / (1 + 2 sum rho_k) over the initial positive sequence; n for a constant series."""
    values = series.cast(pl.Float64)
    n = values.len()
    if n < 4:
        return float(n)
    centred = values - values.mean()
    denominator = float((centred * centred).sum())
    if denominator <= 0.0:
        return float(n)
    frame = pl.DataFrame({"c": centred})
    total = 0.0
    max_lag = min(_MAX_LAG, n // 4)
    lag = 1
    while lag + 1 <= max_lag:
        lags = range(lag, min(lag + _LAG_BATCH, max_lag + 1))
        sums = frame.select([(pl.col("c") * pl.col("c").shift(k)).sum().alias(str(k)) for k in lags]).row(0)
        rho = [s / denominator for s in sums]
        for pair in range(0, len(rho) - 1, 2):
            gamma = rho[pair] + rho[pair + 1]
            if gamma <= 0.0:
                return _bounded(n, total)
            total += gamma
        lag += len(rho) - len(rho) % 2
    return _bounded(n, total)


def _bounded(n: int, rho_sum: float) -> float:
    return min(float(n), max(1.0, n / (1.0 + 2.0 * rho_sum)))


def shift(current: pl.Series, baseline: pl.Series, confidence: float) -> ShiftResult:
    """Hodges-Lehmann shift current - baseline with its Mann-Whitney interval; samples in time order."""
    x = current.cast(pl.Float64)
    y_sorted = baseline.cast(pl.Float64).sort()
    n, m = x.len(), y_sorted.len()
    pairs = float(n) * float(m)
    n_eff_x = effective_n(x.rank("average"))
    n_eff_y = effective_n(baseline.cast(pl.Float64).rank("average"))
    sigma = pairs * math.sqrt(1.0 / (12.0 * n_eff_x) + 1.0 / (12.0 * n_eff_y))
    z = z_of(confidence)
    counts = _PairCounts(
        x.sort(), y_sorted
    )  # U does not depend on order, and sorted queries search ~3x faster
    u0 = counts.u_at(0.0)
    statistic = (u0 - pairs / 2.0) / sigma
    # The median of the nm differences: the middle one, or the mean of the two middle ones.
    middle = (counts.root(math.floor(pairs / 2.0)), counts.root(math.ceil(pairs / 2.0) - 1.0))
    if middle[0] is None or middle[1] is None:  # out of [0, nm] only when nm = 0
        raise ValueError(f"a shift needs samples on both sides: current has {n}, baseline {m}")
    return ShiftResult(
        shift=Estimate(
            estimate=(middle[0] + middle[1]) / 2.0,
            lower=counts.root(pairs / 2.0 + z * sigma),
            upper=counts.root(pairs / 2.0 - z * sigma),
        ),
        p_value=2.0 * (1.0 - NormalDist().cdf(abs(statistic))),
        effect_size=2.0 * u0 / pairs - 1.0,
        n_eff_current=n_eff_x,
        n_eff_baseline=n_eff_y,
    )


class _PairCounts:
    """U(d) = #{x_i - d > y_j} (ties half) over both sorted samples, and the roots of U(d) = target."""

    def __init__(self, x_sorted: pl.Series, y_sorted: pl.Series) -> None:
        self.x_sorted, self.y_sorted = x_sorted, y_sorted
        self.pairs = float(x_sorted.len()) * float(y_sorted.len())
        self.low_d = float_of(x_sorted.min()) - float_of(y_sorted.max()) - 1.0
        self.high_d = float_of(x_sorted.max()) - float_of(y_sorted.min()) + 1.0

    def u_at(self, d: float) -> float:
        shifted = self.x_sorted - d
        # as Int64: the counts are u32, and their sum over 100k x 100k pairs overflows that
        below = self.y_sorted.search_sorted(shifted, side="left").cast(pl.Int64).sum()
        at_or_below = self.y_sorted.search_sorted(shifted, side="right").cast(pl.Int64).sum()
        return (float(below) + float(at_or_below)) / 2.0

    def root(self, target: float) -> float | None:
        """inf{d: U(d) <= target}; U falls from nm at low_d to 0 at high_d. None when out of reach."""
        pairs = self.pairs
        if target > pairs or target < 0.0:
            return None
        # Illinois false position, every fourth step a bisection: U is nearly linear near its
        # roots, so ~10 counts of O(n log m) instead of ~35 bisection steps.
        low, high = self.low_d, self.high_d
        f_low, f_high = pairs - target, -target
        last_side = 0
        for step in range(_MAX_STEPS):
            if high - low <= _RESOLUTION_MS:
                break
            middle = (low * f_high - high * f_low) / (f_high - f_low)
            if step % 4 == 3 or not low < middle < high:
                middle = (low + high) / 2.0
            f_middle = self.u_at(middle) - target
            if f_middle > 0.0:
                low, f_low = middle, f_middle
                f_high = f_high / 2.0 if last_side == 1 else f_high
                last_side = 1
            else:
                high, f_high = middle, f_middle
                f_low = f_low / 2.0 if last_side == -1 else f_low
                last_side = -1
        return (low + high) / 2.0


def quantile_ratio(current: pl.Series, baseline: pl.Series, q: float, confidence: float) -> Estimate:
    """Q_q(current) / Q_q(baseline) with a log-scale interval; None bounds when a side cannot be bounded."""
    z = z_of(confidence)
    sides = [_log_quantile(s.cast(pl.Float64), q, z) for s in (current, baseline)]
    (value_x, se_x), (value_y, se_y) = sides
    ratio = value_x / value_y if value_y > 0 else math.inf
    if se_x is None or se_y is None or value_x <= 0 or value_y <= 0:
        return Estimate(ratio, None, None)
    half = z * math.hypot(se_x, se_y)
    return Estimate(ratio, ratio * math.exp(-half), ratio * math.exp(half))


def _log_quantile(series: pl.Series, q: float, z: float) -> tuple[float, float | None]:
    """The quantile, and the standard error of its log from Woodruff's interval on n_eff."""
    ordered = series.sort()
    value = quantile_type7(ordered, q)
    n_eff = effective_n((series <= value).cast(pl.Float64))
    half = z * math.sqrt(q * (1.0 - q) / n_eff)
    if q - half < 0.0 or q + half > 1.0:
        return value, None
    low, high = quantile_type7(ordered, q - half), quantile_type7(ordered, q + half)
    if low <= 0.0:
        return value, None
    return value, (math.log(high) - math.log(low)) / (2.0 * z)


def rate_difference(current: pl.Series, baseline: pl.Series, confidence: float) -> RateResult:
    """Failure rate of `current` minus that of `baseline` (boolean series, True = failed, time order)."""
    z = z_of(confidence)
    sides = []
    for failed in (current, baseline):
        indicator = failed.cast(pl.Float64)
        n = indicator.len()
        rate = float(indicator.sum()) / n
        n_eff = effective_n(indicator)
        sides.append((rate, n_eff, *_wilson(rate, n_eff, z)))
    (p1, n1, l1, u1), (p2, n2, l2, u2) = sides
    difference = p1 - p2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    p_value = 1.0 if spread == 0.0 else 2.0 * (1.0 - NormalDist().cdf(abs(difference) / spread))
    return RateResult(
        difference=Estimate(
            difference,
            difference - math.hypot(p1 - l1, u2 - p2),
            difference + math.hypot(u1 - p1, p2 - l2),
        ),
        p_value=p_value,
        effect_size=2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p2)),
        n_eff_current=n1,
        n_eff_baseline=n2,
    )


def _wilson(rate: float, n: float, z: float) -> tuple[float, float]:
    centre = (rate + z * z / (2.0 * n)) / (1.0 + z * z / n)
    half = z * math.sqrt(rate * (1.0 - rate) / n + z * z / (4.0 * n * n)) / (1.0 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
