"""Error-rate upper bounds when failures come in bursts: the rule before issue 26 and today's.

Bursts start at random requests (Poisson; bursts starting up to the largest size before the
run reach into it, so the process is stationary) and every request of a burst fails. Sizes:
one failure (independent failures), geometric of mean 5, 20 or 50 (a two-state chain, as in
interval_coverage.py), or Pareto with P(S >= s) = s^-alpha, alpha 1.5 or 2.5, capped at 5,000
(timeout cascades, retries: alpha 1.5 has design effect ~100 and a run sees far less).
n = 50,000 requests; cells are stated in expected bursts (the unit of the coverage goal).

"before" is `rate_bounds` as of issue 26's first round (`BOUNDS_METHOD` 1: the design effect,
Student's t on the bursts seen, and burst frequency x mean burst size with the size bounded by
Student's t alone); "now" is round two (method 2: the mean-size bound allows for the sizes a run
did not see, 1.5 x the largest over the bursts). Both on the same runs. "expected bursts of 2+":
the unit the coverage goal is stated in (a lone failure is no burst a run can tell from
independent ones). Coverage: share of runs whose one-sided 95 % upper bound is at or above the true
rate (what a PASS relies on); width: median (upper - lower) over the exact interval's.

    uv run python benchmarks/burst_coverage.py [--reps 1000] [--part 0/1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from verification_pipeline.slo.stats import failure_dependence, rate_bounds

CONFIDENCE = 0.95
N = 50_000
CAP = 5000
# (sizes, parameter, expected bursts)
CELLS: list[tuple[str, float, float]] = [
    *(("independent", 1, bursts) for bursts in (20, 50, 200)),
    *(("geometric", 5, bursts) for bursts in (1, 4, 10, 40)),
    *(("geometric", 20, bursts) for bursts in (1, 2, 4, 10)),
    *(("geometric", 50, bursts) for bursts in (1, 4, 10)),
    *(
        ("pareto", 1.5, bursts)
        for bursts in (4, 20 / 2.5829, 50 / 2.5829, 100 / 2.5829, 200 / 2.5829, 1000 / 2.5829)
    ),
    *(("pareto", 2.5, bursts) for bursts in (4, 20, 67)),
    # Round two: 4 expected bursts of two failures or more (P(S >= 2) = 2^-alpha), the unit the
    # coverage goal is stated in, and n = 200-sized checks elsewhere.
    ("pareto", 1.5, 4 / 2**-1.5),
    ("pareto", 2.5, 4 / 2**-2.5),
]


def sizes_of(
    kind: str, parameter: float, rng: np.random.Generator
) -> tuple[Callable[[int], np.ndarray], float]:
    """A sampler of burst sizes and their mean."""
    if kind == "independent":
        return (lambda count: np.ones(count, np.int64)), 1.0
    if kind == "geometric":
        return (lambda count: rng.geometric(1.0 / parameter, count)), parameter
    mean = float((np.arange(1, CAP + 1, dtype=float) ** -parameter).sum())
    return (
        lambda count: np.minimum(np.floor(rng.random(count) ** (-1.0 / parameter)), CAP).astype(np.int64)
    ), mean


def run(rng: np.random.Generator, bursts: float, sizes: Callable[[int], np.ndarray]) -> np.ndarray:
    count = rng.poisson(bursts * (N + CAP) / N)
    starts = rng.integers(-CAP, N, count)
    ends = np.minimum(starts + sizes(count), N)
    edges = np.zeros(N + 1, np.int64)
    np.add.at(edges, np.maximum(starts[ends > 0], 0), 1)
    np.add.at(edges, ends[ends > 0], -1)
    return np.cumsum(edges[:-1]) > 0


def cell(rng: np.random.Generator, reps: int, kind: str, parameter: float, bursts: float) -> str:
    sizes, mean = sizes_of(kind, parameter, rng)
    truth = bursts * mean / N
    multiple = bursts * float((sizes_of(kind, parameter, np.random.default_rng(0))[0](200_000) > 1).mean())
    rows = []
    for _ in range(reps):
        failed = run(rng, bursts, sizes)
        dependence = failure_dependence(failed)
        count = int(failed.sum())
        before = rate_bounds(
            count,
            N,
            CONFIDENCE,
            dependence.design_effect,
            dependence.bursts,
            dependence.burst_sizes,
            heavy_tails=False,
        )
        now = rate_bounds(
            count, N, CONFIDENCE, dependence.design_effect, dependence.bursts, dependence.burst_sizes
        )
        exact = rate_bounds(count, N, CONFIDENCE)
        rows.append((*before, *now, *exact, dependence.bursts or 0))
    table = np.array(rows)
    exact_width = np.median(table[:, 5] - table[:, 4])
    widths = [np.median(table[:, 2 * i + 1] - table[:, 2 * i]) / exact_width for i in (0, 1)]
    covers = [(table[:, 2 * i + 1] >= truth).mean() for i in (0, 1)]
    return (
        f"| {kind} {'' if kind == 'independent' else f'{parameter:g} '}| {bursts:.3g} | {multiple:.3g} | {bursts * mean:.3g} | "
        f"{truth * 100:.3g} % | {(table[:, 6] == 0).mean():.3f} | {np.median(table[:, 6]):.0f} | "
        f"{covers[0]:.3f} | **{covers[1]:.3f}** | {(table[:, 2] <= truth).mean():.3f} | "
        f"{widths[0]:.2f} | {widths[1]:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument(
        "--part", default="0/1", help="i/k: every k-th cell from the i-th (to run k processes)"
    )
    parser.add_argument("--cells", help="comma-separated cell numbers (0-based, in table order) instead")
    args = parser.parse_args()
    index, parts = (int(value) for value in args.part.split("/"))
    chosen = {int(number) for number in args.cells.split(",")} if args.cells else None
    started = time.perf_counter()
    print(
        "| sizes | expected bursts | expected bursts of 2+ | expected failures | rate | P(no burst) | median bursts seen | "
        "upper covers, before | upper covers, now | lower covers, now | width / exact, before | width / exact, now |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number, (kind, parameter, bursts) in enumerate(CELLS):
        if (number in chosen) if chosen is not None else number % parts == index:
            # A stream per cell: a cell's figures do not depend on which others ran.
            print(
                cell(np.random.default_rng([args.seed, number]), args.reps, kind, parameter, bursts),
                flush=True,
            )
    print(f"\ntook {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
