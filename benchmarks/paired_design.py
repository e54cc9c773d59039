"""Why the concurrent baseline is compared by time windows (`compare/paired.py`): A/A and power by simulation.

A simulated side-by-side run: requests arrive at `rate`/s for `seconds`, each iteration picks
this RC or the baseline at random (as the interleaved k6 script does); log-latencies follow an
AR(1) in request order (rho 0.3: one queue serves both services on one machine), median ~20 ms.
Scenarios:
- `quiet`: that alone;
- `hog`: a shared noise process mimicking a CPU hog beside the run: on/off bursts (on ~1.5 s,
  off ~2 s, exponential) during which every request of either side is slowed x2-x4, plus
  a slow drift of the level (a random walk in the log, sd 0.05 per second);
- `hog_one_side` (sequential only): the baseline measured on a quiet machine, this RC under the hog.

Designs, each classifying "slower" when its whole interval of the shift is above 0:
- `windows-K`: `paired.paired_shift` with K time windows (the pipeline's: K = 20);
- `pairs`: every request of this RC with its nearest baseline request in time, the median of
  the differences with a sign-test interval on the effective n of the indicator series;
- `two-sample`: `stats.shift` (Hodges-Lehmann / Mann-Whitney on effective n) on the same
  side-by-side data, unpaired;
- `sequential`: `stats.shift` on two separate runs (the previous-RC-bundle design).

The fan-out probe's rounds (`--fanout`, `paired.paired_rounds`): the probe cannot serve both
sides at once, so it alternates rounds in ABBA order, each round R_SPAWN_S of worker start and
subscription and then `events` publishes 10 ms apart to `subscribers`; a delivery's log-latency
is the event's (AR(1) rho 0.3 over events: one queue) plus a per-delivery part, median ~8 ms;
`hog`: the same shared on/off bursts and drifting level over the whole phase. Designs: the
two-sample shift on all deliveries of each side (what the concurrent design did before), and the
rounds paired two by two for 4 (the old ABBA: too few pairs, so the two-sample fallback), 8, 12,
16 and 24 rounds; "slower" as above, and with the materiality floor (5 ms for fan-out).

Usage: `uv run python benchmarks/paired_design.py [--replications 100] [--seed 24] [--fanout]`.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import polars as pl

from verification_pipeline.compare.document import classify_shift
from verification_pipeline.compare.paired import paired_rounds, paired_shift
from verification_pipeline.compare.stats import effective_n, shift, z_of

MU, SIGMA, RHO = 3.0, 0.5, 0.3
SECONDS, RATE = 20.0, 300.0
CONFIDENCE = 0.95


def _hog(rng: np.random.Generator, t: np.ndarray, seconds: float) -> np.ndarray:
    """The shared slow-down factor at each time `t`: on/off bursts x2-x4 and a drifting level."""
    factor = np.ones_like(t)
    now, on = 0.0, bool(rng.random() < 0.5)
    while now < seconds:
        dwell = rng.exponential(1.5 if on else 2.0)
        if on:
            factor[(t >= now) & (t < now + dwell)] *= rng.uniform(2.0, 4.0)
        now, on = now + dwell, not on
    steps = np.cumsum(rng.normal(0.0, 0.05, int(seconds) + 2))
    return factor * np.exp(np.interp(t, np.arange(steps.size), steps))


def side_by_side(
    rng: np.random.Generator,
    *,
    delta_ms: float = 0.0,
    hog: bool = False,
    seconds: float = SECONDS,
    rate: float = RATE,
    rho: float = RHO,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(current, baseline) frames of `t` (s) and `value` (ms), interleaved at random in one run."""
    n = int(seconds * rate)
    t = np.sort(rng.uniform(0.0, seconds, n))
    noise = rng.normal(0.0, 1.0, n)
    state = np.empty(n)
    level, innovation = rng.normal(), math.sqrt(1 - rho * rho)
    for i in range(n):
        level = rho * level + innovation * noise[i]
        state[i] = level
    latency = np.exp(MU + SIGMA * state)
    if hog:
        latency = latency * _hog(rng, t, seconds)
    current = rng.random(n) < 0.5
    latency = latency + np.where(current, delta_ms, 0.0)
    frame = pl.DataFrame({"t": t, "value": latency})
    return frame.filter(pl.Series(current)), frame.filter(~pl.Series(current))


def matched_pairs(current: pl.DataFrame, baseline: pl.DataFrame) -> tuple[float, float, float]:
    """Median of (current - nearest baseline in time) with a sign-test interval on effective n."""
    bt, bv = baseline["t"].to_numpy(), baseline["value"].to_numpy()
    ct, cv = current["t"].to_numpy(), current["value"].to_numpy()
    right = np.clip(np.searchsorted(bt, ct), 1, bt.size - 1)
    nearest = np.where(np.abs(bt[right] - ct) < np.abs(bt[right - 1] - ct), right, right - 1)
    d = cv - bv[nearest]
    ordered = np.sort(d)
    n = d.size
    median = float(np.median(d))
    n_eff = effective_n(pl.Series((d <= median).astype(float)))
    half = z_of(CONFIDENCE) * math.sqrt(n / 4.0 * n / n_eff)
    low = int(max(0, math.floor(n / 2 - half)))
    high = int(min(n - 1, math.ceil(n / 2 + half)))
    return median, float(ordered[low]), float(ordered[high])


def run_design(
    design: str, rng: np.random.Generator, delta: float, scenario: str
) -> tuple[float, float, float, float]:
    """(estimate, lower, upper) of the shift current - baseline for one simulated comparison, and
    the lower bound of the p95 ratio where the design gives one (windows; else nan)."""
    if design == "sequential":
        current, _ = side_by_side(rng, delta_ms=delta, hog=scenario != "quiet")
        _, baseline = side_by_side(rng, hog=scenario == "hog")
    else:
        current, baseline = side_by_side(rng, delta_ms=delta, hog=scenario != "quiet")
    if design.startswith("windows-"):
        result = paired_shift(current, baseline, 0.95, CONFIDENCE, windows=int(design.split("-")[1]))
        if result is None:
            return math.nan, math.nan, math.nan, math.nan
        s, ratio_lower = result.shift, result.quantile_ratio.lower
    elif design == "pairs":
        return (*matched_pairs(current, baseline), math.nan)
    else:
        s, ratio_lower = shift(current["value"], baseline["value"], CONFIDENCE).shift, None
    return (
        s.estimate,
        s.lower if s.lower is not None else -math.inf,
        s.upper if s.upper is not None else math.inf,
        math.nan if ratio_lower is None else ratio_lower,
    )


def rates(design: str, scenario: str, delta: float, replications: int, seed: int) -> dict[str, float]:
    """Share classified slower, share with the estimate in 20-60 ms, mean interval width, seconds each."""
    rng = np.random.default_rng(seed)
    slower = in_band = ratio_above = 0
    widths = []
    started = time.perf_counter()
    for _ in range(replications):
        estimate, lower, upper, ratio_lower = run_design(design, rng, delta, scenario)
        slower += bool(lower > 0)
        ratio_above += bool(ratio_lower > 1.0)
        in_band += bool(20.0 <= estimate <= 60.0)
        widths.append(upper - lower)
    return {
        "slower": slower,
        "in_band": in_band,
        "ratio_above": ratio_above,
        "width": float(np.mean(widths)),
        "seconds": (time.perf_counter() - started) / replications,
    }


DESIGNS = ("windows-20", "windows-10", "windows-40", "pairs", "two-sample", "sequential")


FANOUT_MU, FANOUT_SIGMA_EVENT, FANOUT_SIGMA_DELIVERY = math.log(8.0), 0.3, 0.3
R_SPAWN_S, EVENT_GAP_S, FANOUT_FLOOR_MS = 1.5, 0.012, 5.0
ABBA = ("current", "baseline", "baseline", "current")


def fanout_rounds(
    rng: np.random.Generator,
    *,
    rounds: int,
    delta_ms: float = 0.0,
    hog: bool = False,
    events: int = 200,
    subscribers: int = 50,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(current, baseline) deliveries of `t` (publish time, s) and `value` (ms), rounds in ABBA order."""
    per_round = math.ceil(events / rounds)
    sides = (ABBA * math.ceil(rounds / 4))[:rounds]
    t_events, side_events, now = [], [], 0.0
    for side in sides:
        now += R_SPAWN_S * rng.uniform(0.7, 1.5)
        for _ in range(per_round):
            t_events.append(now)
            side_events.append(side)
            now += EVENT_GAP_S
    t = np.array(t_events)
    n = t.size
    level, innovation, state = rng.normal(), math.sqrt(1 - RHO * RHO), np.empty(n)
    for i, noise in enumerate(rng.normal(0.0, 1.0, n)):
        level = RHO * level + innovation * noise
        state[i] = level
    event_log = FANOUT_MU + FANOUT_SIGMA_EVENT * state
    latency = np.exp(event_log[:, None] + FANOUT_SIGMA_DELIVERY * rng.normal(0.0, 1.0, (n, subscribers)))
    if hog:
        latency = latency * _hog(rng, t, float(now) + 1.0)[:, None]
    current = np.array([side == "current" for side in side_events])
    latency = latency + np.where(current, delta_ms, 0.0)[:, None]
    frame = pl.DataFrame({"t": np.repeat(t, subscribers), "value": latency.ravel()})
    mask = pl.Series(np.repeat(current, subscribers))
    return frame.filter(mask), frame.filter(~mask)


def fanout_rates(design: str, scenario: str, delta: float, replications: int, seed: int) -> dict[str, float]:
    """Share classified slower (interval above 0; and with the floor), mean interval width."""
    rng = np.random.default_rng(seed)
    slower = material = in_band = 0
    widths = []
    for _ in range(replications):
        rounds = 4 if design == "two-sample" else int(design.split("-")[1])
        current, baseline = fanout_rounds(rng, rounds=rounds, delta_ms=delta, hog=scenario == "hog")
        paired = None if design == "two-sample" else paired_rounds(current, baseline, 0.95, CONFIDENCE)
        s = (
            paired.shift
            if paired is not None
            else shift(current["value"], baseline["value"], CONFIDENCE).shift
        )
        slower += bool(s.lower is not None and s.lower > 0)
        material += classify_shift(s, FANOUT_FLOOR_MS) == "slower"
        in_band += bool(0.5 * delta <= s.estimate <= 1.5 * delta) if delta else 0
        lower = -math.inf if s.lower is None else s.lower
        upper = math.inf if s.upper is None else s.upper
        widths.append(upper - lower)
    return {"slower": slower, "material": material, "in_band": in_band, "width": float(np.mean(widths))}


FANOUT_DESIGNS = ("two-sample", "rounds-4", "rounds-8", "rounds-12", "rounds-16", "rounds-24")


def fanout_main(replications: int, seed: int, designs: str) -> None:
    print(f"fan-out: {replications} replications per cell, 200 events x 50 subscribers, seed {seed}")
    print(
        "| design | scenario | A/A slower (CI > 0) | A/A slower with the 5 ms floor | +10 ms slower "
        "| +10 ms slower with the floor | +10 ms estimate in 5-15 | mean CI width at +10 (ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for design in designs.split(","):
        for scenario in ("quiet", "hog"):
            aa = fanout_rates(design, scenario, 0.0, replications, seed)
            power = fanout_rates(design, scenario, 10.0, replications, seed + 1)
            print(
                f"| {design} | {scenario} | {aa['slower']}/{replications} | {aa['material']}/{replications} "
                f"| {power['slower']}/{replications} | {power['material']}/{replications} "
                f"| {power['in_band']}/{replications} | {power['width']:.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--designs", default=None)
    parser.add_argument("--fanout", action="store_true", help="the fan-out probe's rounds instead")
    args = parser.parse_args()
    if args.fanout:
        fanout_main(args.replications, args.seed, args.designs or ",".join(FANOUT_DESIGNS))
        return
    args.designs = args.designs or ",".join(DESIGNS)
    print(
        f"{args.replications} replications per cell, {SECONDS:g} s at {RATE:g} requests/s, seed {args.seed}"
    )
    print(
        "| design | scenario | A/A slower | A/A p95-ratio CI above 1 | +40 ms slower "
        "| +40 ms estimate in 20-60 | mean CI width at +40 (ms) | s/comparison |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for design in args.designs.split(","):
        scenarios = ("quiet", "hog", "hog_one_side") if design == "sequential" else ("quiet", "hog")
        for scenario in scenarios:
            aa = rates(design, scenario, 0.0, args.replications, args.seed)
            power = rates(design, scenario, 40.0, args.replications, args.seed + 1)
            ratio = f"{aa['ratio_above']}/{args.replications}" if design.startswith("windows") else "n/a"
            print(
                f"| {design} | {scenario} | {aa['slower']}/{args.replications} "
                f"| {ratio} "
                f"| {power['slower']}/{args.replications} "
                f"| {power['in_band']}/{args.replications} | {power['width']:.1f} | {power['seconds']:.3f} |"
            )


if __name__ == "__main__":
    main()
