"""Why `compare/stats.py` uses Hodges-Lehmann + Mann-Whitney on effective n: coverage and cost, side by side.

Contenders for "how much slower is this RC?" on time-ordered, AR(1)-correlated latencies:
- ours: the Hodges-Lehmann shift, its Mann-Whitney interval on each sample's effective n
  (`compare.stats.shift`), and the p95 ratio with its interval (`compare.stats.quantile_ratio`);
- the same shift interval with n_eff = n (what a textbook Mann-Whitney interval assumes);
- a moving-block bootstrap of the p95 difference (block length n^(1/3), percentile interval).

Coverage: the share of replications whose interval holds the true value (a known location
shift for the shift; the true p95 difference for the bootstrap). Cost: seconds per comparison
at growing n. Usage: `uv run python benchmarks/baseline_comparison.py [--replications 200]`.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

import polars as pl

from verification_pipeline.compare.stats import quantile_ratio, shift, z_of
from verification_pipeline.quantile import quantile_type7

MU, SIGMA, RHO = 3.0, 0.5, 0.3
DELTA_MS = 4.0


def ar1_lognormal(rng: random.Random, n: int, rho: float) -> list[float]:
    state, innovation, out = rng.gauss(0, 1), math.sqrt(1 - rho * rho), []
    for _ in range(n):
        state = rho * state + innovation * rng.gauss(0, 1)
        out.append(math.exp(MU + SIGMA * state))
    return out


def naive_shift_interval(x: pl.Series, y: pl.Series, confidence: float) -> tuple[float, float]:
    """Mann-Whitney interval assuming independence: ours with n_eff = n, by bisection on U(d)."""
    y_sorted, n, m = y.sort(), x.len(), y.len()
    sigma = n * m * math.sqrt((n + m + 1) / (12.0 * n * m))
    z = z_of(confidence)

    def u_at(d: float) -> float:
        s = x - d
        return (
            y_sorted.search_sorted(s, side="left").cast(pl.Int64).sum()
            + y_sorted.search_sorted(s, side="right").cast(pl.Int64).sum()
        ) / 2

    def root(target: float) -> float:
        low, high = float(x.min() - y.max()) - 1, float(x.max() - y.min()) + 1
        while high - low > 1e-4:
            middle = (low + high) / 2
            low, high = (middle, high) if u_at(middle) > target else (low, middle)
        return (low + high) / 2

    return root(n * m / 2 + z * sigma), root(n * m / 2 - z * sigma)


def block_bootstrap_p95_difference(
    x: pl.Series, y: pl.Series, confidence: float, resamples: int, rng: random.Random
) -> tuple[float, float]:
    """Moving-block bootstrap (block n^(1/3)) of p95(x) - p95(y); percentile interval."""

    def resample(series: pl.Series) -> pl.Series:
        n = series.len()
        block = max(1, round(n ** (1 / 3)))
        starts = pl.Series([rng.randrange(0, n - block + 1) for _ in range(math.ceil(n / block))])
        index = pl.int_ranges(starts, starts + block, eager=True).explode().head(n)
        return series.gather(index)

    differences = sorted(
        quantile_type7(resample(x).sort(), 0.95) - quantile_type7(resample(y).sort(), 0.95)
        for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    return differences[int(tail * resamples)], differences[min(resamples - 1, int((1 - tail) * resamples))]


def coverage(replications: int, n: int, resamples: int) -> None:
    rng = random.Random(2026)
    true_p95_difference = DELTA_MS  # a pure location shift moves every quantile by DELTA_MS
    hits = {"ours: HL shift, MW on n_eff": 0, "MW assuming independence": 0, "block bootstrap p95 diff": 0}
    ratio_hits = 0
    for _ in range(replications):
        base = ar1_lognormal(rng, n, RHO)
        current = pl.Series([v + DELTA_MS for v in ar1_lognormal(rng, n, RHO)])
        baseline = pl.Series(base)
        ours = shift(current, baseline, 0.95).shift
        hits["ours: HL shift, MW on n_eff"] += ours.lower <= DELTA_MS <= ours.upper
        low, high = naive_shift_interval(current, baseline, 0.95)
        hits["MW assuming independence"] += low <= DELTA_MS <= high
        low, high = block_bootstrap_p95_difference(current, baseline, 0.95, resamples, rng)
        hits["block bootstrap p95 diff"] += low <= true_p95_difference <= high
        scaled = pl.Series(ar1_lognormal(rng, n, RHO)) * 1.2
        ratio = quantile_ratio(scaled, baseline, 0.95, 0.95)
        ratio_hits += ratio.lower is not None and ratio.lower <= 1.2 <= ratio.upper
    print(f"coverage at 95 % nominal, {replications} replications of n = {n} per side, AR(1) rho {RHO}:")
    print("| interval | coverage |")
    print("| --- | ---: |")
    for name, count in hits.items():
        print(f"| {name} | {count / replications:.3f} |")
    print(f"| ours: p95 ratio (x1.2 scale change) | {ratio_hits / replications:.3f} |")


def cost(sizes: list[int], resamples: int) -> None:
    rng = random.Random(7)
    print(f"seconds per comparison (median of 3), bootstrap with {resamples} resamples:")
    print("| n per side | ours: shift + p95 ratio | block bootstrap p95 diff | bootstrap / ours |")
    print("| ---: | ---: | ---: | ---: |")
    for n in sizes:
        x, y = pl.Series(ar1_lognormal(rng, n, RHO)), pl.Series(ar1_lognormal(rng, n, RHO))
        ours, boot = [], []
        for _ in range(3):
            started = time.perf_counter()
            shift(x, y, 0.95)
            quantile_ratio(x, y, 0.95, 0.95)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            block_bootstrap_p95_difference(x, y, 0.95, resamples, rng)
            boot.append(time.perf_counter() - started)
        a, b = statistics.median(ours), statistics.median(boot)
        print(f"| {n:,} | {a:.3f} | {b:.3f} | {b / a:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    coverage(args.replications, args.n, args.resamples)
    print()
    cost([int(s) for s in args.sizes.split(",")], args.resamples)


if __name__ == "__main__":
    main()
