"""The paired comparison of two services measured side by side (the concurrent baseline).

When the load drives this RC and the baseline in the same run, each k6 iteration picking one
of them at random, both samples share the machine's noise: a neighbour's CPU hog slows both
for the same seconds. A two-sample test then sees that noise as spread in each sample (or, on
data taken days apart, as a change of the code); the paired design takes it out by comparing
the two sides only within the same stretch of time.

The run is cut into `windows` equal time windows. In each window w with at least
`MIN_PER_WINDOW` requests on each side:
    d_w = median(current in w) - median(baseline in w)            (ms)
    r_w = log Q_q(current in w) - log Q_q(baseline in w)           (k6's type-7 quantile)
The shift is the Hodges-Lehmann location of the d_w (the median of their Walsh averages), the
p95 ratio exp(HL of the r_w); each interval is the Wilcoxon signed-rank interval with its
variance scaled by n / n_eff, n_eff the effective number of windows from the autocorrelation
of the window differences in time order (`stats.effective_n`: a hog that outlasts a window
leaves them serially dependent). The p-value is that signed-rank test of location 0; the
effect size is the sign balance of d_w (share of windows where this RC was slower minus share
where it was faster, in [-1, 1]). Why HL and not the mean of d_w: on a saturated 2-core
machine the two services' processes are scheduled apart, and one window in twenty can differ
by ten times the others (a real demo run: d_w 10-445 ms and one of 1,456 ms); the mean and its
t interval follow that window, the signed-rank interval does not.

Why windows and not matched pairs (each request of this RC with its nearest baseline request in
time, the median of the differences): in simulation (benchmarks/paired_design.py, 100
replications, AR(1) rho 0.3, and a shared on/off CPU-hog process) both keep the A/A "slower"
rate at 0-2 %, and pairs give a narrower shift interval (1.9 vs 3.3 ms under the hog; both
find +40 ms every time), but only windows give the p95 ratio the regression policy judges with
an interval from the same pairing (A/A ratio above 1: 1-2 %), where pairs would leave the
ratio to the unpaired interval, which the shared noise widens as it widens the unpaired shift's. Unpaired on the same side-by-side
data the shift interval is 27 ms wide under the hog; sequential runs with the hog on one side
only call an A/A "slower" 76 times in 100. Why `WINDOWS` = 20: with 10 the interval has too
few windows to reach 95 % once dependence is counted (some intervals unbounded; A/A 5/100 under
the hog), 40 gains nothing at the demo's rate and thins each window's p95 (figures in
benchmarks/RESULTS.md; held by tests/compare/test_paired.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import polars as pl

from verification_pipeline.compare.stats import Estimate, effective_n, z_of
from verification_pipeline.quantile import quantile_type7

WINDOWS = 20
"""Time windows a side-by-side run is cut into (chosen by simulation, see the module doc)."""
MIN_PER_WINDOW = 10
"""A window with fewer requests on either side says nothing about that stretch: left out."""
MIN_WINDOWS = 6
"""Fewer usable windows than this and no paired interval is worth printing."""


@dataclass(frozen=True)
class PairedResult:
    shift: Estimate
    """Hodges-Lehmann location over windows of median(current) - median(baseline), ms."""
    quantile_ratio: Estimate
    """exp(Hodges-Lehmann location over windows of log Q_q(current) - log Q_q(baseline))."""
    p_value: float
    effect_size: float
    """Share of windows where this RC was slower minus share where it was faster."""
    windows: int
    n_eff: float


def signed_rank(values: pl.Series, confidence: float) -> tuple[Estimate, float, float]:
    """Hodges-Lehmann location of `values` (median of the Walsh averages) with the Wilcoxon
    signed-rank interval, its variance scaled by n / n_eff (serial dependence, time order);
    also the two-sided p-value of location 0 and n_eff. O(n^2) in the windows: n <= WINDOWS."""
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    walsh = sorted((ordered[i] + ordered[j]) / 2.0 for i in range(n) for j in range(i, n))
    pairs = len(walsh)
    n_eff = effective_n(values)
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0 * n / n_eff)
    middle = (walsh[(pairs - 1) // 2] + walsh[pairs // 2]) / 2.0
    reach = math.floor(pairs / 2.0 - z_of(confidence) * sd)
    lower = walsh[reach] if 0 <= reach < pairs else None
    upper = walsh[pairs - 1 - reach] if 0 <= reach < pairs else None
    positive = sum(1.0 if w > 0 else 0.5 if w == 0 else 0.0 for w in walsh)
    statistic = (positive - pairs / 2.0) / sd
    p_value = 2.0 * (1.0 - NormalDist().cdf(abs(statistic)))
    return Estimate(middle, lower, upper), p_value, n_eff


def window_differences(
    current: pl.DataFrame, baseline: pl.DataFrame, q: float, windows: int = WINDOWS
) -> pl.DataFrame:
    """Per usable window, in time order: `d` (median difference, ms) and `r` (log quantile ratio).

    Both frames: `t` (seconds, any origin shared by both) and `value` (ms).
    """
    start = min(float(current["t"].min()), float(baseline["t"].min()))  # type: ignore[arg-type]
    end = max(float(current["t"].max()), float(baseline["t"].max()))  # type: ignore[arg-type]
    width = (end - start) / windows if end > start else 1.0

    def by_window(frame: pl.DataFrame) -> dict[int, pl.Series]:
        keyed = frame.with_columns(
            ((pl.col("t") - start) / width).floor().cast(pl.Int64).clip(0, windows - 1).alias("w")
        )
        return {
            int(key[0]): part["value"].sort()
            for key, part in keyed.partition_by("w", as_dict=True, maintain_order=True).items()
        }

    x, y = by_window(current), by_window(baseline)
    rows = []
    for w in sorted(set(x) & set(y)):
        if x[w].len() < MIN_PER_WINDOW or y[w].len() < MIN_PER_WINDOW:
            continue
        qx, qy = quantile_type7(x[w], q), quantile_type7(y[w], q)
        ratio = math.log(qx) - math.log(qy) if qx > 0 and qy > 0 else math.nan
        rows.append((w, quantile_type7(x[w], 0.5) - quantile_type7(y[w], 0.5), ratio))
    return pl.DataFrame(rows, schema={"w": pl.Int64, "d": pl.Float64, "r": pl.Float64}, orient="row")


def paired_shift(
    current: pl.DataFrame, baseline: pl.DataFrame, q: float, confidence: float, windows: int = WINDOWS
) -> PairedResult | None:
    """This RC against the baseline, paired by time window; None with fewer than MIN_WINDOWS usable windows."""
    return _paired(window_differences(current, baseline, q, windows), confidence)


def _paired(diffs: pl.DataFrame, confidence: float) -> PairedResult | None:
    """The paired figures from per-unit differences `d` (ms) and `r` (log quantile ratio), in time order."""
    if diffs.height < MIN_WINDOWS:
        return None
    shift_estimate, p_value, n_eff = signed_rank(diffs["d"], confidence)
    ratios = diffs["r"].drop_nans()
    if ratios.len() >= MIN_WINDOWS:
        log_ratio, _, _ = signed_rank(ratios, confidence)
        ratio = Estimate(
            math.exp(log_ratio.estimate),
            None if log_ratio.lower is None else math.exp(log_ratio.lower),
            None if log_ratio.upper is None else math.exp(log_ratio.upper),
        )
    else:
        ratio = Estimate(math.nan, None, None)
    d = diffs["d"]
    effect = (int((d > 0).sum()) - int((d < 0).sum())) / d.len()
    return PairedResult(
        shift=shift_estimate,
        quantile_ratio=ratio,
        p_value=p_value,
        effect_size=effect,
        windows=diffs.height,
        n_eff=n_eff,
    )


# --- the fan-out probe's rounds (issue 24) ------------------------------------------------------
#
# The probe cannot serve both sides at once (one publisher, one set of subscribers), so under the
# concurrent design it alternates rounds, ABBA repeated (`defs.fanout.assets.ROUNDS`): A B B A A B
# B A ... Rounds do not overlap in time, so time windows cannot pair them; two-sample statistics on
# all rounds' deliveries take the thousands of deliveries as the sample, when what varies under a
# hog is each round as a whole (which bursts it met): a demo under a hog called fan-out +6.1 ms
# slower, CI [+3.6, +8.7], on an A/A comparison. Here the unit is the round: the rounds are taken
# in time order two by two, (1, 2), (3, 4), ..., each pair one A round and its adjacent B round,
# the A first in one pair and second in the next, so a drift of the machine over the phase cancels
# between consecutive pairs. Per pair, as per window above: the difference of the medians and the
# log ratio of the p95s; then the same Hodges-Lehmann / signed-rank figures on n_eff pairs.
#
# The rounds are found from the rows themselves (the raw schema has no round column): in time order
# of publication the sides alternate in runs A | B B | A A | ... | A; a run that holds two rounds
# (every run but the first and the last) is split at its longest pause between publishes, which is
# the next round's start (its worker processes spawned, every subscriber connected) rather than
# one publish's latency. Rows that do not show that shape (fewer than 2 runs, a side with an odd
# number of rounds) are not paired: None, and the caller falls back to the two-sample figures.
# Chosen by simulation (benchmarks/paired_design.py --fanout; figures in benchmarks/RESULTS.md).


def probe_rounds(current: pl.DataFrame, baseline: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """The probe's rounds in time order, each as (side, its rows); [] when the rows show no ABBA shape.

    Both frames: `t` (publish time, seconds, one origin) and `value` (ms).
    """
    rows = pl.concat(
        [
            current.select("t", "value").with_columns(pl.lit("current").alias("side")),
            baseline.select("t", "value").with_columns(pl.lit("baseline").alias("side")),
        ]
    ).sort("t", maintain_order=True)
    if rows.is_empty():
        return []
    run_id = (pl.col("side") != pl.col("side").shift(1)).fill_null(True).cum_sum()
    runs = rows.with_columns(run_id.alias("run")).partition_by("run", maintain_order=True, include_key=False)
    if len(runs) < 2:
        return []
    rounds: list[tuple[str, pl.DataFrame]] = []
    for index, run in enumerate(runs):
        side = str(run["side"][0])
        if index in (0, len(runs) - 1):
            rounds.append((side, run))
            continue
        times = run["t"].unique().sort()
        if times.len() < 2:
            return []
        gaps = times.diff().drop_nulls()
        cut = float(times[int(gaps.arg_max() or 0) + 1])
        rounds.extend([(side, run.filter(pl.col("t") < cut)), (side, run.filter(pl.col("t") >= cut))])
    return rounds if len(rounds) % 2 == 0 else []


def round_differences(current: pl.DataFrame, baseline: pl.DataFrame, q: float) -> pl.DataFrame:
    """Per pair of adjacent rounds (1, 2), (3, 4), ... in time order: `d` and `r` as per window."""
    rounds = probe_rounds(current, baseline)
    rows = []
    for pair in range(0, len(rounds) - 1, 2):
        sides = dict(rounds[pair : pair + 2])
        if set(sides) != {"current", "baseline"}:
            return pl.DataFrame(schema={"w": pl.Int64, "d": pl.Float64, "r": pl.Float64})
        x, y = sides["current"]["value"].sort(), sides["baseline"]["value"].sort()
        if x.len() < MIN_PER_WINDOW or y.len() < MIN_PER_WINDOW:
            continue
        qx, qy = quantile_type7(x, q), quantile_type7(y, q)
        ratio = math.log(qx) - math.log(qy) if qx > 0 and qy > 0 else math.nan
        rows.append((pair // 2, quantile_type7(x, 0.5) - quantile_type7(y, 0.5), ratio))
    return pl.DataFrame(rows, schema={"w": pl.Int64, "d": pl.Float64, "r": pl.Float64}, orient="row")


def paired_rounds(
    current: pl.DataFrame, baseline: pl.DataFrame, q: float, confidence: float
) -> PairedResult | None:
    """This RC against the baseline, paired by adjacent probe rounds; None with fewer than
    MIN_WINDOWS usable pairs (or rows without the rounds' shape). `windows` counts the pairs."""
    return _paired(round_differences(current, baseline, q), confidence)
