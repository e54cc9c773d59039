"""Coverage and width of the SLO bounds under serial dependence, beside today's exact interval.

Latencies: lognormal (sigma 0.5) or bimodal (90 % fast around 40 ms, 10 % slow from 278 ms),
both a monotone function of a normal that is AR(1) with rho in {0, 0.3, 0.5}, i.e. the logs are
correlated as measured on real k6 runs (0.23-0.32). Failures at 0.05, 0.1 and 0.2 %, either
independent or in bursts from a two-state Markov chain (mean burst 5 requests, every request
in a burst fails). Sizes n = 1,000 / 10,000 / 100,000.

For each replication the pipeline's own functions (`slo.stats`: `quantile_bounds_in_time_order`,
`rate_bounds` with `failure_dependence`) give the one-sided upper and lower bounds at 95 %; "exact" is the same rule with n_eff = n (the independent-sample order
statistics and Clopper-Pearson the pipeline used before). Coverage is the share of
replications whose upper bound is at or above the true value (what a PASS relies on) and whose
lower bound is at or below it (what a FAIL relies on); width is upper minus lower.

    uv run python benchmarks/interval_coverage.py [--reps 1000] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import polars as pl

from verification_pipeline.slo.stats import (
    failure_dependence,
    latent_design_effect,
    quantile_bounds,
    quantile_bounds_in_time_order,
    rate_bounds,
    serial_dependence,
    time_blocks,
)

CONFIDENCE = 0.95
Q = 0.95
RHOS = (0.0, 0.3, 0.5)
RATES = (0.0005, 0.001, 0.002)
MEAN_BURST = 5.0
_Z = NormalDist()


def ar1_normals(rng: np.random.Generator, reps: int, n: int, rho: float) -> np.ndarray:
    """reps rows of a stationary standard-normal AR(1) series of length n."""
    noise = rng.standard_normal((reps, n))
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    scale = math.sqrt(1.0 - rho * rho)
    for t in range(1, n):
        out[:, t] = rho * out[:, t - 1] + scale * noise[:, t]
    return out


def latencies(z: np.ndarray, dist: str) -> tuple[np.ndarray, float]:
    """Latencies as a monotone function of the AR(1) normals, and the distribution's true p95.

    Bimodal: the lowest 90 % are fast (40 ms * e^(0.3 z), at most 59 ms), the rest slow
    (400 ms * e^(z - z95), from 278 ms), so the true p95 is 400 ms, in the slow mode.
    """
    if dist == "lognormal":
        return 100.0 * np.exp(0.5 * z), 100.0 * math.exp(0.5 * _Z.inv_cdf(Q))
    z90, z95 = _Z.inv_cdf(0.9), _Z.inv_cdf(Q)
    return np.where(z < z90, 40.0 * np.exp(0.3 * z), 400.0 * np.exp(z - z95)), 400.0


def failures(rng: np.random.Generator, reps: int, n: int, p: float, bursty: bool) -> np.ndarray:
    """0/1 failures: Bernoulli(p), or a Markov chain with stationary share p and mean burst 5."""
    if not bursty:
        return rng.random((reps, n)) < p
    leave = 1.0 / MEAN_BURST
    enter = p * leave / (1.0 - p)
    state = np.empty((reps, n), bool)
    state[:, 0] = rng.random(reps) < p
    u = rng.random((reps, n))
    for t in range(1, n):
        state[:, t] = np.where(state[:, t - 1], u[:, t] >= leave, u[:, t] < enter)
    return state


@dataclass
class Cell:
    upper: float
    lower: float
    width_ratio: float
    exact_upper: float
    exact_lower: float
    median_effective_n: float
    before_upper: float = math.nan
    before_lower: float = math.nan


def quantile_cell(values: np.ndarray, truth: float) -> Cell:
    n = values.shape[1]
    rows = []
    for row in values:
        ordered = np.sort(row)
        series = pl.Series(row)
        value = float(np.quantile(ordered, Q))  # type 7, as quantile_type7
        dependence = serial_dependence(series <= value)
        # Method 2 (issue 26, round two), as `evaluate_quantile` takes it; "before": method 1.
        floor = latent_design_effect(row, Q) if dependence.design_effect == 1.0 else 1.0
        blocks = time_blocks(row, Q, value, CONFIDENCE)
        low, high = quantile_bounds_in_time_order(
            series, pl.Series(ordered), Q, CONFIDENCE, dependence, floor, blocks
        )
        before_low, before_high = quantile_bounds_in_time_order(
            series, pl.Series(ordered), Q, CONFIDENCE, dependence
        )
        exact_low, exact_high = quantile_bounds(n, Q, CONFIDENCE)
        rows.append(
            (
                _at(ordered, low, -math.inf),
                _at(ordered, high, math.inf),
                _at(ordered, exact_low, -math.inf),
                _at(ordered, exact_high, math.inf),
                n / max(dependence.design_effect, floor, blocks.design_effect if blocks else 1.0),
                _at(ordered, before_low, -math.inf),
                _at(ordered, before_high, math.inf),
            )
        )
    table = np.array(rows)
    width = np.median(table[:, 1] - table[:, 0]) / np.median(table[:, 3] - table[:, 2])
    return Cell(
        upper=float((table[:, 1] >= truth).mean()),
        lower=float((table[:, 0] <= truth).mean()),
        width_ratio=float(width),
        exact_upper=float((table[:, 3] >= truth).mean()),
        exact_lower=float((table[:, 2] <= truth).mean()),
        median_effective_n=float(np.median(table[:, 4])),
        before_upper=float((table[:, 6] >= truth).mean()),
        before_lower=float((table[:, 5] <= truth).mean()),
    )


def rate_cell(failed: np.ndarray, p: float) -> Cell:
    n = failed.shape[1]
    rows = []
    for row in failed:
        dependence = failure_dependence(pl.Series(row))
        count = int(row.sum())
        low, high = rate_bounds(count, n, CONFIDENCE, dependence.design_effect, dependence.bursts)
        exact_low, exact_high = rate_bounds(count, n, CONFIDENCE)
        rows.append((low, high, exact_low, exact_high, dependence.effective_n))
    table = np.array(rows)
    exact_width = np.median(table[:, 3] - table[:, 2])
    return Cell(
        upper=float((table[:, 1] >= p).mean()),
        lower=float((table[:, 0] <= p).mean()),
        width_ratio=float(np.median(table[:, 1] - table[:, 0]) / exact_width),
        exact_upper=float((table[:, 3] >= p).mean()),
        exact_lower=float((table[:, 2] <= p).mean()),
        median_effective_n=float(np.median(table[:, 4])),
    )


def _at(ordered: np.ndarray, rank: int | None, missing: float) -> float:
    return float(ordered[rank - 1]) if rank else missing


def tolerance(reps: int) -> float:
    """Two binomial standard errors of a coverage near 95 % on `reps` replications."""
    return 2.0 * math.sqrt(0.95 * 0.05 / reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--only", choices=("quantile", "rate"), help="run one of the two tables")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    sizes = [int(size) for size in args.sizes.split(",")]
    started = time.perf_counter()
    print(
        f"replications per cell: {args.reps} (2 s.e. of a 95 % coverage: {tolerance(args.reps) * 100:.1f} points)"
    )
    if args.only != "rate":
        quantile_table(rng, sizes, args.reps)
    if args.only != "quantile":
        rate_table(rng, sizes, args.reps)
    print(f"\ntook {time.perf_counter() - started:.0f} s")


def quantile_table(rng: np.random.Generator, sizes: list[int], replications: int) -> None:
    print("\n## p95 bounds (one-sided 95 % each)\n")
    print(
        "| latencies | rho | n | upper covers | lower covers | upper, method 1 | lower, method 1 | exact upper | exact lower | width / exact | median n_eff |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for dist in ("lognormal", "bimodal"):
        for rho in RHOS:
            for n in sizes:
                reps = replications if n < 100_000 else max(100, replications // 4)
                values, truth = latencies(ar1_normals(rng, reps, n, rho), dist)
                cell = quantile_cell(values, truth)
                print(
                    f"| {dist} | {rho:g} | {n:,} | {cell.upper:.3f} | {cell.lower:.3f} | {cell.before_upper:.3f} | "
                    f"{cell.before_lower:.3f} | {cell.exact_upper:.3f} | "
                    f"{cell.exact_lower:.3f} | {cell.width_ratio:.3f} | {cell.median_effective_n:,.0f} |",
                    flush=True,
                )


def rate_table(rng: np.random.Generator, sizes: list[int], replications: int) -> None:
    print("\n## error-rate bounds (one-sided 95 % each)\n")
    print(
        "| failures | rate | n | expected failures | upper covers | exact upper | width / exact | median n_eff |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for bursty in (False, True):
        for p in RATES:
            for n in sizes:
                reps = replications if n < 100_000 else max(100, replications // 4)
                cell = rate_cell(failures(rng, reps, n, p, bursty), p)
                print(
                    f"| {'bursts' if bursty else 'independent'} | {p * 100:g} % | {n:,} | {n * p:g} | "
                    f"{cell.upper:.3f} | {cell.exact_upper:.3f} | {cell.width_ratio:.3f} | "
                    f"{cell.median_effective_n:,.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
