"""`slo_metrics`: one row per SLO with n, value, threshold, confidence bounds and verdict.

The verdict answers "does the evidence show value <= threshold?", at the level c of slos.yaml:
- FAIL when the one-sided lower bound at level c lies above the threshold;
- PASS when the one-sided upper bound at level c lies at or below it and the sample has at
  least `min_samples`;
- INCONCLUSIVE otherwise, with the reason: no data, too few samples (and how many would do),
  or bounds on both sides of the threshold. For example 0 failures in 2,000 requests cannot
  show <= 0.1 % at 95 %: the upper bound is 0.15 %; 2,995 failure-free requests are needed.
`ci_low` / `ci_high` are those two bounds (together a two-sided interval at 2c - 1).

Bounds come from the samples in time order (`stats.serial_dependence`,
`stats.failure_dependence`): correlated latencies and bursts of failures count as fewer
independent samples (`effective_n`). The row carries
the diagnostics: the lag-1 autocorrelation (of log(1 + ms) for latencies, of the failure
indicator for rates), the effective n, the failure dispersion index (variance over mean of
failures per window of ceil(sqrt(n)) consecutive requests; 1 for independent failures) and
the interval method.

Sources: `read` / `write` are the load samples of that op (`ingest.SAMPLE_SCHEMA`), `all`
both together, `ingest` the writes' `ingest_ms`, `fanout` the first arrivals (delivered or
late) of the fan-out probe's deliveries (`fanout.accounting.DELIVERY_SCHEMA`). Latency SLOs
count successful responses unless the SLO says `responses: all`; `value_all_responses` is the
figure over every response that has a latency, beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import polars as pl

from verification_pipeline.errors import recorded_method
from verification_pipeline.fanout.accounting import DELIVERED, LATE
from verification_pipeline.formatting import approximate, bounds, level, significant
from verification_pipeline.loadtest.ingest import FAILURE_KINDS
from verification_pipeline.quantile import quantile_type7
from verification_pipeline.scalars import float_of
from verification_pipeline.slo.spec import Slo, SloSpec
from verification_pipeline.slo.stats import (
    EPISODE_SHARE,
    STATED_BURSTS,
    Dependence,
    Episodes,
    TimeBlocks,
    burst_frequency_upper,
    calmest_block_lower,
    episode_mixture_quantile,
    episode_share_upper,
    failure_dependence,
    find_episodes,
    latent_design_effect,
    longest_caught_episode,
    quantile_bounds_in_time_order,
    quantile_upper_sample_size,
    rate_bounds,
    serial_dependence,
    span_needed,
    spans_needed,
    time_blocks,
    zero_failure_sample_size,
)
from verification_pipeline.slo_row import SLO_METRICS_SCHEMA, SloRow
from verification_pipeline.verdict import Verdict

PASS, FAIL, INCONCLUSIVE = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE  # short names for the rules below

DEPENDENCE_COLUMNS = ("lag1_autocorrelation", "effective_n", "dispersion_index", "interval_method")
"""The columns that say how serial dependence shaped each interval (shown beside the figures)."""

# Opens the part of a reason that says what the run could have missed (`cannot_exclude`).
CANNOT_EXCLUDE = "; what it cannot exclude: "
QUANTILE_METHOD = "order statistics on effective n"
RATE_METHOD = "Clopper-Pearson on effective n"
# The rules the bounds follow, recorded in slo/metrics.json (`bounds_method`) so that `audit`
# recomputes a bundle with the rules it was made with. 1 (a document without the field): the
# rules of issue 17 and the first round of issue 26. 2: issue 26, round two: a lower limit on
# the design effect from the ranks (small samples, `latent_design_effect`), the time-block
# diagnostic and its bound (slow episodes, `time_blocks`), the heavy-tail-robust mean burst
# size (`rate_bounds`), and the slow episodes each latency verdict could have missed. 3: issue
# 26, round three: where time blocks disagree the lower bound (what a FAIL rests on) is at most
# the calmest block's own (`calmest_block_lower`): a run holding a slow episode holds more than
# its share, and its lower bound covered the long-run p95 in 0.88-0.92 of all runs. 4: issue 26,
# round four: where time blocks disagree, slow stretches are found in the data and counted
# (`find_episodes`), and the upper bound is at least the quantile of calm and slow requests mixed
# at an upper bound on the share of slow time (`episode_share_upper`: how often they start x how
# long they last, as the burst rule bounds failures): a run holding one short stretch no longer
# takes it as all the slowness the long run has.
BOUNDS_METHOD = 4
# The fields of an SLO's row that repeat the SLO's own, under the same names.
_FROM_SLO = {"name", "metric", "source", "quantile", "threshold", "unit"}
# The episode a latency verdict suggests how to catch: seconds where the samples carry their
# time, requests where they do not (the longest stretch in issue 26's slow episodes).
TARGET_EPISODE_SECONDS = 300.0
TARGET_EPISODE_REQUESTS = 2000.0

_LATENCY_WORDS = {
    "read": "read latencies",
    "write": "write latencies",
    "all": "request latencies",
    "ingest": "write ingest times",
    "fanout": "fan-out delivery latencies",
}
_REQUEST_WORDS = {"read": "read requests", "write": "write requests", "all": "requests"}
# Each source's clock column: samples are put in time order before any dependence is measured.
_TIME_COLUMN = {"fanout": "received_at"}


def slo_rows(
    spec: SloSpec,
    *,
    read: pl.DataFrame | None = None,
    write: pl.DataFrame | None = None,
    fanout: pl.DataFrame | None = None,
    method: int = BOUNDS_METHOD,
) -> tuple[SloRow, ...]:
    """Evaluate every SLO of `spec` on the samples given; a source not given has n = 0.
    `method`: the `BOUNDS_METHOD` to follow (an older one to recompute an older bundle)."""
    requests = {"read": read, "write": write, "all": _both(read, write)}
    rows = []
    for slo in spec.slos:
        if slo.metric == "quantile":
            latencies, all_responses = _latencies(slo.source, slo.responses, requests, write, fanout)
            spans = _spans(slo.source, requests, write, fanout) if method >= 2 else None
            rows.append(
                evaluate_quantile(
                    slo, latencies, spec.confidence, all_responses=all_responses, spans=spans, method=method
                )
            )
        else:
            rows.append(evaluate_rate(slo, requests[slo.source], spec.confidence, method=method))
    return tuple(rows)


def compute_slo_metrics(
    spec: SloSpec,
    *,
    read: pl.DataFrame | None = None,
    write: pl.DataFrame | None = None,
    fanout: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`slo_rows` as a table (`SLO_METRICS_SCHEMA`), for the readers that filter and chart it."""
    rows = slo_rows(spec, read=read, write=write, fanout=fanout)
    return pl.DataFrame(
        [{**row.model_dump(), "verdict": row.verdict.value} for row in rows], schema=SLO_METRICS_SCHEMA
    )


def recorded_bounds_method(
    recorded: Mapping[str, Any], *, default: int, source: str, field: str = "bounds_method"
) -> int:
    """The bounds method a recorded document says it followed (its `bounds_method`; `default` for
    one made before it said), refused naming `field` of `source` when this code does not know it."""
    return recorded_method(
        recorded, "bounds_method", default=default, latest=BOUNDS_METHOD, source=source, field=field
    )


def evaluate_quantile(
    slo: Slo,
    latencies: pl.Series,
    confidence: float,
    *,
    all_responses: pl.Series | None = None,
    spans: Sequence[float] | None = None,
    method: int = BOUNDS_METHOD,
) -> SloRow:
    """One SLO's row for a latency quantile; `latencies` in time order.

    `all_responses`: the same source's latencies counting failed responses too, reported beside.
    `spans`: the seconds the samples cover, one per stretch of the run apart in time (segments
    that did not overlap), for the slow episodes the verdict could have missed; without them
    the run's length in samples stands in.
    """
    q = slo.quantile
    if q is None:  # Slo's validator requires it for a quantile SLO
        raise ValueError(f"SLO {slo.name!r} has no quantile: evaluate it with evaluate_rate")
    measured_latencies = latencies.drop_nulls()
    n = measured_latencies.len()
    words = _LATENCY_WORDS[slo.source]
    label = f"p{q * 100:g}"
    everything = _quantile_or_none(all_responses, q)
    if n == 0:
        also = (
            f" ({all_responses.drop_nulls().len()} responses, all failed)"
            if all_responses is not None and everything is not None
            else ""
        )
        reason = f"no {_scope(slo)}{words} were measured{also}"
        return _row(slo, confidence, n, INCONCLUSIVE, reason, value_all_responses=everything)
    ordered = measured_latencies.sort()
    value = quantile_type7(ordered, q)
    dependence, floor, blocks = _quantile_dependence(measured_latencies, q, value, confidence, method)
    lag1 = _lag1(measured_latencies.log1p())
    low, high = _quantile_bound_values(
        measured_latencies, ordered, q, confidence, dependence, floor, blocks, method
    )
    calm_low = method >= 3 and blocks is not None and blocks.disagree
    episodes = _episode_bound(measured_latencies, q, value, confidence, blocks, high) if method >= 4 else None
    high = high if episodes is None else max(high or 0.0, episodes.upper)
    estimate = _Estimate(value, low, high, dependence, lag1)
    headline = (
        f"{label} of {n} {_scope(slo)}{words} is {significant(value)} ms"
        f"{'' if everything is None else f' ({significant(everything)} ms over every response)'}"
    )
    blocks_seen = _blocks_text(blocks, label, calm_low=calm_low, episodes=episodes) if method >= 2 else ""
    measured, verdict, why = _judged(slo, n, confidence, estimate, " ms", headline, blocks_seen)
    if verdict == INCONCLUSIVE and high is None:
        needed = max(slo.min_samples, quantile_upper_sample_size(q, confidence, dependence.design_effect))
        why = (
            f"only {n} samples, too few to bound {label} from above at {level(confidence)}: "
            f"at least {needed} are needed"
        )
    if method >= 2:
        why += f"{CANNOT_EXCLUDE}{_episodes_missed(spans, n, confidence)}"
    return _row(slo, confidence, n, verdict, f"{measured}: {why}", estimate, value_all_responses=everything)


def _quantile_dependence(
    latencies: pl.Series, q: float, value: float, confidence: float, method: int
) -> tuple[Dependence, float, TimeBlocks | None]:
    """The dependence a latency quantile's bounds allow for: the indicator's at the estimate
    `value`, and under method 2 the ranks' floor (where the indicator saw nothing: too few
    samples to tell) and the time blocks (at every candidate bound, where they disagree), the
    design effect at the estimate raised to what they say."""
    n = latencies.len()
    dependence = serial_dependence(latencies <= value)
    if method < 2:
        return dependence, 1.0, None
    floor = latent_design_effect(latencies, q) if dependence.design_effect == 1.0 else 1.0
    blocks = time_blocks(latencies, q, value, confidence)
    at_estimate = max(floor, blocks.design_effect if blocks is not None else 1.0)
    if at_estimate > dependence.design_effect:
        dependence = replace(dependence, design_effect=at_estimate, effective_n=n / at_estimate)
    return dependence, floor, blocks


def _quantile_bound_values(
    latencies: pl.Series,
    ordered: pl.Series,
    q: float,
    confidence: float,
    dependence: Dependence,
    floor: float,
    blocks: TimeBlocks | None,
    method: int,
) -> tuple[float | None, float | None]:
    """The one-sided bounds (values, None where the sample cannot bound that side); under method 3
    the lower one at most the calmest time block's where the blocks disagree."""
    low_rank, high_rank = quantile_bounds_in_time_order(
        latencies, ordered, q, confidence, dependence, floor, blocks
    )
    low = ordered[low_rank - 1] if low_rank else None
    high = ordered[high_rank - 1] if high_rank else None
    if method >= 3 and blocks is not None and blocks.disagree and low is not None:
        calm = calmest_block_lower(latencies, q, confidence, blocks)
        low = None if calm is None else min(low, calm)
    return low, high


@dataclass(frozen=True)
class _EpisodeBound:
    """The episode rule's upper bound on a quantile (`BOUNDS_METHOD` 4) and what it rests on."""

    episodes: Episodes
    n: int
    share: float
    """The upper bound on the long-run share of slow time."""
    upper: float
    """The quantile of calm and slow requests mixed at `share`."""
    confidence: float


def _episode_bound(
    latencies: pl.Series,
    q: float,
    value: float,
    confidence: float,
    blocks: TimeBlocks | None,
    high: float | None,
) -> _EpisodeBound | None:
    """Method 4: where time blocks disagree and the upper side can be bounded at all, the slow
    stretches found (`find_episodes`) and the quantile of the run's calm and slow requests mixed
    at the upper bound on how much of the time is slow (`episode_share_upper`); None where no
    stretch stood out (the bound is then method 3's)."""
    if blocks is None or not blocks.disagree or high is None:
        return None
    values = latencies.to_numpy()
    episodes = find_episodes(values, q, value)
    if episodes.count == 0:
        return None
    share = episode_share_upper(episodes, values.size, confidence)
    upper = episode_mixture_quantile(values, episodes, share, q)
    return _EpisodeBound(episodes, int(values.size), share, upper, confidence)


def _episodes_seen(bound: _EpisodeBound, label: str) -> str:
    """What the episode rule saw and allowed for, in words."""
    episodes, n = bound.episodes, bound.n
    lengths = episodes.lengths
    starts = burst_frequency_upper(episodes.count, n, bound.confidence) * n
    seen = (
        f"1 slow stretch of {lengths[0]:,.0f} requests"
        if episodes.count == 1
        else f"{episodes.count} slow stretches of {lengths.mean():,.0f} requests on average "
        f"(the longest {lengths.max():,.0f})"
    )
    return (
        f"; {seen} stood out of windows of {episodes.window:,} requests, and the upper bound allows for "
        f"such stretches recurring up to {starts:.3g} times in {n:,} requests (the {level(bound.confidence)} "
        f"upper bound on how often they start) and lasting up to {bound.share * n / starts:,.0f} requests on "
        f"average: slow for up to {bound.share * 100:.3g}% of the time, a mix of this run's calm and slow "
        f"requests whose {label} is {significant(bound.upper)} ms"
    )


def evaluate_rate(
    slo: Slo, requests: pl.DataFrame | None, confidence: float, *, method: int = BOUNDS_METHOD
) -> SloRow:
    """One SLO's row for the share of failed requests, in percent; rows in time order."""
    words = _REQUEST_WORDS[slo.source]
    if requests is None or requests.is_empty():
        return _row(slo, confidence, 0, INCONCLUSIVE, f"no {words} were measured", failures=0)
    n = requests.height
    failed_flags = ~requests["ok"]
    failed = requests.filter(failed_flags)
    failures = failed.height
    dependence = failure_dependence(failed_flags)
    bounds = rate_bounds(
        failures,
        n,
        confidence,
        dependence.design_effect,
        dependence.bursts,
        dependence.burst_sizes,
        heavy_tails=method >= 2,
    )
    low, high = (bound * 100 for bound in bounds)
    value = failures / n * 100
    kinds = dict(failed.group_by("failure").len().iter_rows())
    breakdown = ", ".join(f"{kinds[kind]} {kind}" for kind in FAILURE_KINDS if kinds.get(kind))
    dispersion = failure_dispersion_index(failed_flags)
    headline = (
        f"{failures} of {n} {words} failed ({significant(value)}%{'; ' + breakdown if breakdown else ''})"
        f"{_bursts_seen(dependence)}"
    )
    spread = "" if dispersion is None else f", dispersion index {dispersion:.3g}"
    estimate = _Estimate(value, low, high, dependence, dependence.lag1_autocorrelation)
    measured, verdict, why = _judged(slo, n, confidence, estimate, "%", headline, spread)
    if verdict == INCONCLUSIVE and failures == 0:
        needed = max(
            slo.min_samples,
            zero_failure_sample_size(slo.threshold / 100, confidence, dependence.design_effect),
        )
        why += f"; {needed} requests without a failure would be needed to show it"
    if verdict != FAIL:
        why += _bursts_caveat(dependence, n, slo.threshold, confidence, method)
    reason = f"{measured}: {why}"
    return _row(slo, confidence, n, verdict, reason, estimate, failures=failures, dispersion_index=dispersion)


def cannot_exclude(reason: str) -> str | None:
    """What a verdict's evidence could have missed, from its reason (None when it says nothing):
    the release documents show it under a PASS, whose reason they do not print."""
    return reason.split(CANNOT_EXCLUDE, 1)[1] if CANNOT_EXCLUDE in reason else None


def _bursts_seen(dependence: Dependence) -> str:
    """The bursts in words (" in 3 bursts (runs of ..., the largest 12)"); "" without a failure."""
    bursts, sizes = dependence.bursts, dependence.burst_sizes
    if not bursts or sizes is None:
        return ""
    plural = "burst" if bursts == 1 else "bursts"
    return f" in {bursts} {plural} (runs of consecutive failed requests, the largest {sizes.largest})"


def _bursts_caveat(dependence: Dependence, n: int, threshold: float, confidence: float, method: int) -> str:
    """What a verdict other than FAIL on fewer than `STATED_BURSTS` bursts cannot exclude, as the
    end of its reason ("" from that many on). Method 2 counts bursts of two failures or more: a
    lone failure is no burst a run can tell from independent ones, and the coverage goal is
    stated in those (RESULTS.md, issue 26)."""
    multiple = method >= 2
    seen = (
        (dependence.burst_sizes.multiple if dependence.burst_sizes else 0)
        if multiple
        else (dependence.bursts or 0)
    )
    if seen >= STATED_BURSTS:
        return ""
    singles = (dependence.bursts or 0) if multiple and seen == 0 else 0
    missed = _could_miss(seen, n, threshold, confidence, multiple=multiple, singles=singles)
    return f"{CANNOT_EXCLUDE}{missed}"


def _could_miss(
    bursts: int, n: int, threshold: float, confidence: float, *, multiple: bool = False, singles: int = 0
) -> str:
    """What a verdict on fewer than STATED_BURSTS bursts cannot exclude: bursts recurring up to
    the upper bound on their frequency, of a size that would break the threshold at it.
    `multiple`: `bursts` counts runs of two failures or more (method 2). `singles`: failures
    seen, all one at a time (no burst of two or more): `_singly`."""
    frequency = burst_frequency_upper(bursts, n, confidence)
    size = max(2 if multiple else 1, math.ceil(threshold / 100 / frequency * (1 - 1e-12)))
    kind = "of two failures or more" if multiple else "of failures"
    seen = (
        f"no burst {kind} was seen"
        if bursts == 0
        else f"only {bursts} burst{'s' if bursts > 1 else ''} {kind} seen"
    )
    return (
        f"{seen} (the {level(confidence)} level is stated for runs with at least {STATED_BURSTS}), "
        f"so this run cannot exclude bursts starting once every {1 / frequency:,.0f} requests "
        f"(the {level(confidence)} upper bound on how often they start): bursts of {size:,} or more "
        f"failures that often would break the {significant(threshold)}% threshold"
        f"{_singly(singles, n, threshold, confidence)}"
    )


def _singly(failures: int, n: int, threshold: float, confidence: float) -> str:
    """What a run whose failures all came one at a time cannot exclude (issue 26, round three):
    heavy-tailed bursts that happened to show only single failures. Such a run is, from its data,
    independent failures (given their number, their positions are alike under both), and its
    bound is theirs; bursts starting as often as the upper bound on those starts, of a larger
    mean size, would break the threshold (benchmarks/singles_tradeoff.py, RESULTS.md)."""
    if failures == 0:
        return ""
    starts = burst_frequency_upper(failures, n, confidence)
    size = threshold / 100 / starts
    if size <= 1.0:
        return ""
    return (
        f"; its {failures:,} failure{'s' if failures > 1 else ''} came one at a time, as independent "
        f"failures do and as heavy-tailed bursts (timeout cascades, retries) may by chance (with sizes of "
        f"tail index 1.5, 4 bursts show only single failures in one run in four); the bound takes them as "
        f"independent, and bursts starting once every {1 / starts:,.0f} requests (the {level(confidence)} upper "
        f"bound from the {failures:,} seen) would break the {significant(threshold)}% threshold at a mean size "
        f"of {size:.2g} failures or more"
    )


def _blocks_text(
    blocks: TimeBlocks | None, label: str, *, calm_low: bool = False, episodes: _EpisodeBound | None = None
) -> str:
    """The time-block diagnostic in words, for the dependence part of a reason. `calm_low`: the
    lower bound is at most the calmest block's (method 3); `episodes`: the slow stretches the
    upper bound allows to recur (method 4)."""
    if blocks is None:
        return "; too few samples for time blocks"
    calm = (
        ", and the lower bound is at most the calmest block's own (a run that held a slow stretch "
        "holds more slowness than the long run may)"
        if calm_low
        else ""
    )
    # Issue 26, round three: the blocks see how slowness varied within the run, not how often
    # slow stretches recur beyond it (a run holding one short stretch holds less than its share).
    # Round four (method 4): where stretches stood out, the upper bound allows them to recur.
    calm += (
        _episodes_seen(episodes, label)
        if episodes is not None
        else "; the upper bound allows for how slowness varied within this run, not for how often slow "
        "stretches recur beyond it"
        if calm_low
        else ""
    )
    verdict = (
        f"apart beyond chance (p = {blocks.p_value:.2g}), so the bounds allow for blocks of "
        f"{blocks.size:,} (design effect {blocks.design_effect:.3g}){calm}"
        if blocks.disagree
        else f"within chance (p = {blocks.p_value:.2g})"
    )
    return (
        f"; {blocks.blocks} time blocks of {blocks.size:,}: {label} from {significant(blocks.lowest)} "
        f"to {significant(blocks.highest)} ms, {verdict}"
    )


def _episodes_missed(spans: Sequence[float] | None, n: int, confidence: float) -> str:
    """The longest slow episode the run could not have missed, and what would catch a longer one."""
    at = level(confidence)
    share = f"{EPISODE_SHARE * 100:g}%"
    say: Callable[[float], str]
    if spans:
        unit, target, say = "seconds", TARGET_EPISODE_SECONDS, _duration
        span, parts = float(sum(spans)), len(spans)
    else:
        unit, target, say = "requests", TARGET_EPISODE_REQUESTS, _requests
        span, parts = float(n), 1
    longest = longest_caught_episode(spans if spans else [float(n)], confidence)
    where = f"this run's {say(span)}" + (f" in {parts} stretches apart in time" if parts > 1 else "")
    caught = "an episode of any length" if math.isinf(longest) else f"one lasting up to {say(longest)}"
    text = (
        f"slow episodes (stretches of slow requests covering {share} of the {unit}, at random times): "
        f"{where} contain {caught} with probability {at}, and can miss longer ones"
    )
    if longest >= target:
        return text
    return (
        f"{text}; to catch episodes of {say(target)} at {at}, measure {say(span_needed(target, confidence))} "
        f"in one run or {spans_needed(target, span / parts, confidence)} stretches of "
        f"{say(span / parts)} spread over time"
    )


def _duration(seconds: float) -> str:
    if seconds < 10:  # a run of seconds misses episodes longer than a fraction of one
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _requests(count: float) -> str:
    # numbers only, no words that differ by size: `audit` reads an older reason's "0 requests" as
    # this one's "0.51 requests" (the same words, the numbers within the coarser one's last digit)
    return f"{count:,.0f} requests" if count >= 10 else f"{count:.2g} requests"


def _spans(
    source: str,
    requests: dict[str, pl.DataFrame | None],
    write: pl.DataFrame | None,
    fanout: pl.DataFrame | None,
) -> tuple[float, ...] | None:
    """Seconds covered by a source's samples, one figure per stretch apart in time: the spans of
    its segments (first to last timestamp), overlapping ones merged. None without a clock."""
    frame = fanout if source == "fanout" else write if source == "ingest" else requests.get(source)
    column = _TIME_COLUMN.get(source, "timestamp")
    if frame is None or frame.is_empty() or column not in frame.columns:
        return None
    keys = ["segment"] if "segment" in frame.columns else []
    limits = (
        (
            frame.group_by(keys).agg(pl.col(column).min().alias("start"), pl.col(column).max().alias("end"))
            if keys
            else frame.select(pl.col(column).min().alias("start"), pl.col(column).max().alias("end"))
        )
        .drop_nulls(["start", "end"])
        .sort("start")
    )
    merged: list[list[Any]] = []
    for start, end in limits.select("start", "end").iter_rows():
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    spans = tuple((end - start).total_seconds() for start, end in merged)
    # Samples that share one timestamp (a summary, a test) carry no duration: count requests.
    return spans if sum(spans) > 0 else None


def dependence_summary(row: Mapping[str, Any]) -> str:
    """A row's diagnostics in one line for tables: "lag-1 ρ 0.27, n_eff 3,120 (method)"; "—" without."""
    method = row.get("interval_method")
    if not method:
        return "—"
    parts = []
    if row.get("lag1_autocorrelation") is not None:
        parts.append(f"lag-1 ρ {row['lag1_autocorrelation']:.2f}")
    if row.get("effective_n") is not None:
        parts.append(f"n_eff {row['effective_n']:,.0f}")
    if row.get("dispersion_index") is not None:
        parts.append(f"dispersion {row['dispersion_index']:.2g}")
    return f"{', '.join(parts)} ({method})"


def failure_dispersion_index(failed: pl.Series) -> float | None:
    """Variance over mean of failures per window of ceil(sqrt(n)) consecutive requests.

    1 for independent failures, the mean burst size and more for bursts; None without a failure
    or with fewer than two whole windows.
    """
    n = failed.len()
    window = math.ceil(math.sqrt(n)) if n else 0
    windows = n // window if window else 0
    if windows < 2 or not failed.any():
        return None
    counts = (
        pl.DataFrame({"failed": failed.head(windows * window).cast(pl.Int64)})
        .with_row_index("i")
        .group_by(pl.col("i") // window)
        .agg(pl.col("failed").sum())["failed"]
    )
    mean = float_of(counts.mean())
    return float_of(counts.var()) / mean if mean else None


class _Estimate(NamedTuple):
    """A figure, its one-sided bounds (None where the sample cannot bound that side) and the
    serial dependence they allow for."""

    value: float
    low: float | None
    high: float | None
    dependence: Dependence
    lag1: float | None


def _judged(
    slo: Slo,
    n: int,
    confidence: float,
    estimate: _Estimate,
    unit: str,
    headline: str,
    diagnostics: str,
) -> tuple[str, Verdict, str]:
    """What was measured in words (`headline`; the bounds in `unit`; the dependence they allow
    for, then `diagnostics`), and the verdict with why."""
    low, high = estimate.low, estimate.high
    measured = (
        f"{headline}; {_bounds_text(confidence, low, high, unit)} "
        f"({_dependence_text(estimate.dependence, estimate.lag1)}{diagnostics})"
    )
    return (measured, *_decide(slo, n, low, high, f"{significant(slo.threshold)}{unit}", confidence))


def _decide(
    slo: Slo, n: int, low: float | None, high: float | None, threshold: str, confidence: float
) -> tuple[Verdict, str]:
    at = level(confidence)
    if low is not None and low > slo.threshold:
        return FAIL, f"the {at} lower bound is above the {threshold} threshold"
    if n < slo.min_samples:
        return (
            INCONCLUSIVE,
            f"only {n} samples, and the SLO asks for at least {slo.min_samples} before a pass",
        )
    if high is not None and high <= slo.threshold:
        return PASS, f"the {at} upper bound is at or below the {threshold} threshold"
    return (
        INCONCLUSIVE,
        f"the {at} bounds are on both sides of the {threshold} threshold, so the sample cannot decide",
    )


def _latencies(
    source: str,
    responses: str,
    requests: dict[str, pl.DataFrame | None],
    write: pl.DataFrame | None,
    fanout: pl.DataFrame | None,
) -> tuple[pl.Series, pl.Series | None]:
    """The SLO's latencies in time order, and those of every response (None where all count)."""
    empty = pl.Series("latency_ms", [], pl.Float64)
    if source == "fanout":
        if fanout is None:
            return empty, None
        arrived = (
            fanout.filter(pl.col("status").is_in([DELIVERED, LATE])) if "status" in fanout.columns else fanout
        )
        return _in_time_order(arrived, _TIME_COLUMN["fanout"])["latency_ms"], None
    frame = write if source == "ingest" else requests[source]
    if frame is None:
        return empty, None
    column = "ingest_ms" if source == "ingest" else "latency_ms"
    frame = _in_time_order(frame, "timestamp")
    if responses == "all":
        return frame[column], None
    return frame.filter(pl.col("ok"))[column], frame[column]


def _both(read: pl.DataFrame | None, write: pl.DataFrame | None) -> pl.DataFrame | None:
    frames = [frame for frame in (read, write) if frame is not None]
    return _in_time_order(pl.concat(frames, how="vertical"), "timestamp") if frames else None


def _in_time_order(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Rows sorted by their clock (stable); a frame without one is taken as already in order."""
    return frame.sort(column, maintain_order=True) if column in frame.columns else frame


def _row(
    slo: Slo,
    confidence: float,
    n: int,
    verdict: Verdict,
    reason: str,
    estimate: _Estimate | None = None,
    **figures: Any,
) -> SloRow:
    """`slo`'s row: what it repeats of the SLO (`_FROM_SLO`), what was measured (`estimate`; none:
    nothing to bound, those figures are None) and the other `figures`, under SloRow's names."""
    measured: dict[str, Any] = {}
    if estimate is not None:
        measured = {
            "value": estimate.value,
            "ci_low": estimate.low,
            "ci_high": estimate.high,
            "lag1_autocorrelation": estimate.lag1,
            "effective_n": estimate.dependence.effective_n,
            "interval_method": QUANTILE_METHOD if slo.metric == "quantile" else RATE_METHOD,
        }
    return SloRow(
        **slo.model_dump(include=_FROM_SLO),
        n=n,
        confidence=confidence,
        verdict=verdict,
        reason=reason,
        responses=slo.responses if slo.metric == "quantile" and slo.source != "fanout" else None,
        **figures,
        **measured,
    )


def _quantile_or_none(latencies: pl.Series | None, q: float) -> float | None:
    ordered = latencies.drop_nulls().sort() if latencies is not None else None
    return quantile_type7(ordered, q) if ordered is not None and ordered.len() else None


def _lag1(values: pl.Series) -> float | None:
    """Lag-1 autocorrelation (Pearson) of a series in time order; None when it cannot be had."""
    if values.len() < 3 or not values.std():
        return None
    frame = pl.DataFrame({"x": values})
    correlation = frame.select(pl.corr(pl.col("x"), pl.col("x").shift(1))).item()
    return None if correlation is None or math.isnan(correlation) else float(correlation)


def _scope(slo: Slo) -> str:
    return "successful " if slo.responses == "successful" and slo.source != "fanout" else ""


def _bounds_text(confidence: float, low: float | None, high: float | None, unit: str) -> str:
    return f"its one-sided {level(confidence)} bounds are {bounds(low, high)}{unit}"


def _dependence_text(dependence: Dependence, lag1: float | None) -> str:
    lag = "n/a" if lag1 is None else f"{lag1:.3f}"
    # an estimate: three significant digits (bundles written before said up to six; audit reads both)
    return f"lag-1 autocorrelation {lag}, effective n {approximate(dependence.effective_n)}"


def slo_latencies(
    source: str,
    responses: str | None = None,
    *,
    read: pl.DataFrame | None = None,
    write: pl.DataFrame | None = None,
    fanout: pl.DataFrame | None = None,
) -> pl.Series:
    """The latencies a quantile SLO's figure is computed from (a row's `source` and `responses`, in
    time order), for a chart that must match that figure."""
    requests = {"read": read, "write": write, "all": _both(read, write)}
    return _latencies(source, responses or "successful", requests, write, fanout)[0]
