"""The statistics behind SLO figures: k6's percentile, and confidence intervals that need no
assumption about the latency distribution.

- `quantile_type7`: linear interpolation between closest ranks (Hyndman-Fan type 7), written
  exactly as k6's `TrendSink.P` so that our figure and k6's agree to the last bit.
- `quantile_ci`: the order-statistic interval. The number of samples at or below the true
  q-quantile is Binomial(n, q), so sample ranks r < s with P(r <= B <= s-1) >= 1 - alpha give
  [x(r), x(s)], valid for any continuous distribution (conservative with ties).
- `clopper_pearson`: the exact binomial interval for a failure rate; never below its nominal
  coverage, which matters near 0 where an error-rate SLO lives.

Binomial tail probabilities come from the regularized incomplete beta function (continued
fraction, Numerical Recipes `betacf`), so n in the millions costs microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPSILON = 1e-15
_TINY = 1e-300


def quantile_type7(ordered: Sequence[float], q: float) -> float:
    """k6's percentile of ascending `ordered` values (at least one): j + (k - j) * f."""
    count = len(ordered)
    if count == 1:
        return ordered[0]
    position = q * (count - 1.0)
    below = ordered[math.floor(position)]
    above = ordered[math.ceil(position)]
    return below + (above - below) * (position - math.floor(position))


def quantile_ci(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """1-based ranks (r, s) of the order statistics bounding the q-quantile, equal-tailed.

    None for a side the sample is too small to bound: with n = 20 nothing bounds p95 from
    above at 95 %, since all 20 samples fall below it with probability 0.95^20 > 2.5 %.
    """
    tail = (1.0 - confidence) / 2.0
    # r: the largest rank with P(B <= r - 1) <= tail; s: the smallest with P(B <= s - 1) >= 1 - tail.
    low = _last_k(lambda k: binomial_cdf(k, n, q) <= tail, n - 1)
    high = _first_k(lambda k: binomial_cdf(k, n, q) >= 1.0 - tail, n - 1)
    return (low + 1 if low is not None else None, high + 1 if high is not None else None)


def clopper_pearson(failures: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact interval for a binomial proportion (failures of n)."""
    tail = (1.0 - confidence) / 2.0
    # lower: P(B >= x | p) = tail; upper: P(B <= x | p) = tail. Both tails fall as p moves away.
    lower = 0.0 if failures == 0 else _solve_p(lambda p: 1.0 - binomial_cdf(failures - 1, n, p) - tail)
    upper = 1.0 if failures == n else _solve_p(lambda p: tail - binomial_cdf(failures, n, p))
    return lower, upper


def zero_failure_sample_size(threshold: float, confidence: float) -> int:
    """Requests without a single failure needed before the upper bound reaches `threshold`.

    With none failing the Clopper-Pearson upper bound is 1 - (alpha/2)^(1/n).
    """
    return math.ceil(math.log((1.0 - confidence) / 2.0) / math.log1p(-threshold))


def quantile_upper_sample_size(q: float, confidence: float) -> int:
    """Smallest n whose largest sample bounds the q-quantile from above: q^n <= alpha/2."""
    return math.ceil(math.log((1.0 - confidence) / 2.0) / math.log(q))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(B <= k) for B ~ Binomial(n, p), as I_{1-p}(n - k, k + 1)."""
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


def _solve_p(increasing) -> float:
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


def _last_k(holds, last: int) -> int | None:
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


def _first_k(holds, last: int) -> int | None:
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
