"""p95 bounds when latencies have slow episodes, method 1 (before issue 26's second round),
method 2 and method 3 (the FAIL side's bound from the calmest block where blocks disagree) on
the same runs (method 3's upper bound is method 2's).

Latencies lognormal (median 100 ms, sigma 0.5), x3 inside episodes of 200-2,000 requests
(uniform) separated by exponential gaps of mean 20,900 requests, so 5 % of the time is slow
(GC pauses, a noisy neighbour, a rescheduled pod); each run enters the process at a random
phase. The truth is the stationary mixture's p95. Runs are grouped by how many slow requests
they hold: a run cannot bound slowness it did not see, so coverage is reported per group, and
over all runs ("all"): what a verdict's confidence claims is the unconditional coverage (a
FAIL's lower bound must lie under the long-run p95 in 95 % of runs, whatever they held).

    uv run python benchmarks/episode_coverage.py [--sizes 10000,30000] [--reps 300]
"""

from __future__ import annotations

import argparse
import math
import time
from statistics import NormalDist

import numpy as np
import polars as pl

from verification_pipeline.slo.stats import (
    calmest_block_lower,
    latent_design_effect,
    quantile_bounds_in_time_order,
    serial_dependence,
    time_blocks,
)

Q = CONFIDENCE = 0.95
GROUPS = ((1, 200), (200, 600), (600, 1200), (1200, 10**9))


def truth() -> float:
    normal = NormalDist()
    low, high = 1.0, 10_000.0
    for _ in range(100):
        middle = (low + high) / 2.0
        below = 0.95 * normal.cdf(math.log(middle / 100.0) / 0.5) + 0.05 * normal.cdf(
            math.log(middle / 300.0) / 0.5
        )
        low, high = (middle, high) if below < Q else (low, middle)
    return low


def run(rng: np.random.Generator, n: int) -> tuple[np.ndarray, int]:
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


def bounds(values: np.ndarray, method: int) -> tuple[float, float, bool]:
    """(lower, upper, blocks disagree) as `evaluate_quantile` takes them under `method`."""
    series, ordered = pl.Series(values), np.sort(values)
    value = float(np.quantile(ordered, Q))
    dependence = serial_dependence(series <= value)
    floor, blocks = 1.0, None
    if method >= 2:
        floor = latent_design_effect(values, Q) if dependence.design_effect == 1.0 else 1.0
        blocks = time_blocks(values, Q, value, CONFIDENCE)
    low, high = quantile_bounds_in_time_order(
        series, pl.Series(ordered), Q, CONFIDENCE, dependence, floor, blocks
    )
    lower = float(ordered[low - 1]) if low else -math.inf
    if method >= 3 and blocks is not None and blocks.disagree:
        calm = calmest_block_lower(values, Q, CONFIDENCE, blocks)
        lower = -math.inf if calm is None else min(lower, calm)
    return (
        lower,
        float(ordered[high - 1]) if high else math.inf,
        bool(blocks is not None and blocks.disagree),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000")
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    p95 = truth()
    started = time.perf_counter()
    print(f"true p95 {p95:.1f} ms; {args.reps} runs a size\n")
    print(
        "| n | slow requests in the run | runs | upper covers, method 1 | upper covers, method 2 | "
        "lower covers, method 1 | lower covers, method 2 | lower covers, method 3 | blocks disagree |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (int(size) for size in args.sizes.split(",")):
        rng = np.random.default_rng([args.seed, n])
        rows = []
        for _ in range(args.reps):
            values, slow = run(rng, n)
            before_low, before_high, _ = bounds(values, 1)
            low, high, disagree = bounds(values, 2)
            now_low, _, _ = bounds(values, 3)
            rows.append(
                (
                    slow,
                    before_high >= p95,
                    high >= p95,
                    before_low <= p95,
                    low <= p95,
                    now_low <= p95,
                    disagree,
                )
            )
        table = np.array(rows, dtype=float)
        for first, last in ((0, 1), *GROUPS, (0, 10**9)):
            chosen = table[(table[:, 0] >= first) & (table[:, 0] < last)]
            if chosen.size:
                label = (
                    "none"
                    if last == 1
                    else "**all**"
                    if first == 0
                    else f"{first:,}-{last - 1:,}"
                    if last < 10**9
                    else f">= {first:,}"
                )
                cells = " | ".join(f"{value:.3f}" for value in chosen[:, 1:].mean(axis=0))
                print(f"| {n:,} | {label} | {len(chosen)} | {cells} |", flush=True)
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
