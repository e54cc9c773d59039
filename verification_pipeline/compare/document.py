"""`slo/baseline.json`: this RC against the baseline RC, one row per SLO, every statistic shown.

The `baseline_comparison` asset and `audit --baseline` both build it with `comparison_document`
from raw samples, so an auditor recomputes the signed comparison with the code that made it.

Per latency SLO: the Hodges-Lehmann shift with its Mann-Whitney interval and p-value, Cliff's
delta as the effect size, the ratio of the SLO's quantiles (`p95_ratio`) with its interval,
and a classification: `slower` when the whole shift interval is above 0, `faster` when below,
`no_change` otherwise. Per rate SLO: the difference of the failure rates in percentage points
with its interval, classified `higher` / `lower` / `no_change` the same way.

The regression policy (`regression:` in slos.yaml) turns a detected change into a verdict:
- a detected slowdown whose whole p95-ratio interval is above 1 + max_p95_increase_pct is a
  regression: WARN, or FAIL under `on_regression: fail`;
- a detected slowdown whose estimate, but not its whole interval, is above the limit may be
  one: WARN, or INCONCLUSIVE under `fail` (the sample cannot show the policy holds);
- anything else passes, with the figures in the reason. Rate SLOs alike, in percentage points.
Too few samples on either side to compare: WARN (INCONCLUSIVE under `fail`). No baseline at
all: status NO_BASELINE, verdict WARN, said in `reason`; never a silent pass.

`design` says how the two samples were taken: `sequential` (the default, and what a document
without the field means) compares this RC's run with the previous RC's signed bundle, measured
earlier; `concurrent` compares the two services measured side by side in one run (issue 24):
latency SLOs then use the paired design of `compare.paired` (time windows, so both sides share
the machine's noise), error rates the same rate difference on the side-by-side rows, and the
fan-out probe's alternated ABBA rounds are paired round by round (`paired.paired_rounds`; before
regression method 2, the two-sample shift).

Materiality (regression method 2, `RegressionPolicy.material_floor_ms`): a latency row is
`slower` / `faster` only when, besides the interval excluding 0, its shift estimate or the
difference of the two p95s reaches the SLO's floor (`min_shift_ms` in the row); a detected shift
below it is `no_change` and says so. `regression_method` in the document says which rules made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from verification_pipeline.compare.paired import WINDOWS, paired_rounds, paired_shift
from verification_pipeline.compare.stats import (
    Estimate,
    RateResult,
    ShiftResult,
    quantile_ratio,
    rate_difference,
    shift,
)
from verification_pipeline.errors import recorded_method
from verification_pipeline.evidence.layout import (
    CONCURRENT_BASELINE_FANOUT_STEM,
    CONCURRENT_BASELINE_STEM,
    SLO_BASELINE,
)
from verification_pipeline.fanout.accounting import DELIVERED, LATE
from verification_pipeline.formatting import bounds, level, signed, significant
from verification_pipeline.gates import MIN_COMPARED_SAMPLES as GATE_MIN_COMPARED_SAMPLES
from verification_pipeline.health.assess import assess, measured_phases, saturated_sources
from verification_pipeline.quantile import quantile_type7
from verification_pipeline.slo.spec import RegressionPolicy, Slo, SloSpec
from verification_pipeline.verdict import Verdict, worst

SCHEMA = "verification_pipeline/baseline/v1"
SEQUENTIAL, CONCURRENT = "sequential", "concurrent"
COMPARED, NO_BASELINE = "COMPARED", "NO_BASELINE"
MIN_COMPARED_SAMPLES = GATE_MIN_COMPARED_SAMPLES
"""Below this on either side no interval of a shift or a rate difference is worth printing
(`gates.MIN_COMPARED_SAMPLES`: the baseline gate signs it, and `verify` judges by it)."""
CDF_POINTS = 101

REGRESSION_METHOD = 2
"""The rules of the comparison, recorded in slo/baseline.json as `regression_method` (issue 24) so
that `audit` and `verify` recompute a bundle with the rules it was made with:
1 (no field): a latency shift is a change whenever its interval excludes 0; the fan-out probe's
  rounds under the concurrent design are compared as two samples;
2: a latency change must also reach the materiality floor (`RegressionPolicy.material_floor_ms`,
  recorded per row as `min_shift_ms`), and the fan-out rounds are paired (`paired.paired_rounds`)."""
MATERIALITY_FIELDS = ("min_shift_ms", "min_shift_threshold_pct")
"""The regression policy's fields that method 2 added: left out of a method-1 document."""

SHIFT_METHOD = (
    "Hodges-Lehmann shift, Mann-Whitney interval and p-value, variance scaled by each sample's "
    "effective n (rank autocorrelation, time order); effect size Cliff's delta; p95 ratio with a "
    "log-scale interval from Woodruff intervals on effective n"
)
PAIRED_METHOD = (
    f"paired by time window (concurrent baseline, {WINDOWS} windows): shift = Hodges-Lehmann over windows of the "
    "median difference, p95 ratio = exp(HL of the log p95 ratios), Wilcoxon signed-rank intervals on the effective number "
    "of windows (autocorrelation of the window differences); effect size = sign balance of the windows"
)
ROUNDS_METHOD = (
    "paired by probe round (concurrent baseline, ABBA rounds): per pair of adjacent rounds, one on each side, "
    "the median difference and the log p95 ratio; shift = Hodges-Lehmann over the pairs, p95 ratio = exp(HL of "
    "the log ratios), Wilcoxon signed-rank intervals on the effective number of pairs; effect size = sign "
    "balance of the pairs"
)
RATE_METHOD = (
    "difference of failure rates, Newcombe hybrid score interval from Wilson intervals on each "
    "side's effective n (failure-indicator autocorrelation); pooled z-test p-value; effect size Cohen's h"
)


@dataclass(frozen=True)
class Samples:
    """One RC's raw rows: load samples (`ingest.SAMPLE_SCHEMA`) and fan-out deliveries, and the
    measurement-health phase records of the run that took them (None: not recorded)."""

    read: pl.DataFrame | None = None
    write: pl.DataFrame | None = None
    fanout: pl.DataFrame | None = None
    health_phases: list[dict[str, Any]] | None = None

    @classmethod
    def from_frames(
        cls, frames: Mapping[str, pl.DataFrame], metrics: Mapping[str, Any] | None = None
    ) -> Samples:
        """From a bundle's raw/*.parquet, keyed by stem ("read", "write", "fanout"), and its
        slo/metrics.json (for the measurement health it signed)."""
        return cls(
            read=frames.get("read"),
            write=frames.get("write"),
            fanout=frames.get("fanout"),
            health_phases=measured_phases((metrics or {}).get("measurement_health")),
        )


def concurrent_samples(
    frames: Mapping[str, pl.DataFrame], metrics: Mapping[str, Any] | None = None
) -> Samples:
    """The concurrent baseline's side of a run, from its raw frames (`baseline`: read and write
    rows, `op` says which; `baseline_fanout`: the probe's rounds against it). Its measurement
    health is the run's own: one k6 and one probe measured both sides."""
    rows = frames.get(CONCURRENT_BASELINE_STEM)
    return Samples(
        read=None if rows is None else rows.filter(pl.col("op") == "read"),
        write=None if rows is None else rows.filter(pl.col("op") == "write"),
        fanout=frames.get(CONCURRENT_BASELINE_FANOUT_STEM),
        health_phases=measured_phases((metrics or {}).get("measurement_health")),
    )


def no_baseline_document(rc: str, confidence: float, reason: str) -> dict[str, Any]:
    """Nothing to compare with: said in the status, the verdict and the reason."""
    return {
        "schema": SCHEMA,
        "rc": rc,
        "status": NO_BASELINE,
        "reason": reason,
        "confidence": confidence,
        "baseline": None,
        "verdict": Verdict.WARN.value,
        "slos": [],
    }


def comparison_document(
    spec: SloSpec,
    *,
    rc: str,
    current: Samples,
    baseline: Samples,
    baseline_info: Mapping[str, Any],
    design: str = SEQUENTIAL,
    regression_method: int = REGRESSION_METHOD,
) -> dict[str, Any]:
    """Compare every SLO of `spec`; `baseline_info`: rc, bundle_uri, commit, verified of the baseline.

    `design`: SEQUENTIAL (the baseline's signed bundle) or CONCURRENT (measured beside this RC).
    `regression_method`: the rules to follow (`REGRESSION_METHOD`; an older one to recompute an
    older bundle, whose document then reads as it was signed).
    """
    if design not in (SEQUENTIAL, CONCURRENT):
        raise ValueError(f"unknown comparison design {design!r}")
    if not 1 <= regression_method <= REGRESSION_METHOD:
        raise ValueError(f"unknown regression method {regression_method!r}")
    # Both sides' health judged by this RC's limits, so the same figures always read the same.
    saturated = {
        side: saturated_sources(assess(samples.health_phases, spec.measurement_health))
        if samples.health_phases is not None
        else {}
        for side, samples in (("current", current), ("baseline", baseline))
    }
    rows = [
        _guard(
            _latency_row(slo, spec, current, baseline, design, regression_method)
            if slo.metric == "quantile"
            else _rate_row(slo, spec, current, baseline),
            spec.regression,
            saturated["current"].get(slo.source),
            saturated["baseline"].get(slo.source),
        )
        for slo in spec.slos
    ]
    verdict = worst((row["verdict"] for row in rows), empty=Verdict.WARN)
    flagged = [f"{row['slo']} {row['verdict']}" for row in rows if row["verdict"] != Verdict.PASS]
    return {
        "schema": SCHEMA,
        "rc": rc,
        "status": COMPARED,
        "reason": (
            f"against {baseline_info['rc']}, to look at: {', '.join(flagged)}"
            if flagged
            else f"against {baseline_info['rc']}, no regression beyond the policy"
        ),
        "confidence": spec.confidence,
        "design": design,
        "baseline": dict(baseline_info),
        "regression_policy": spec.regression.model_dump(
            mode="json", exclude=None if regression_method >= 2 else set(MATERIALITY_FIELDS)
        ),
        "verdict": verdict.value,
        "slos": rows,
    } | ({"regression_method": regression_method} if regression_method >= 2 else {})


def regression_method_of(recorded: Mapping[str, Any], source: str = SLO_BASELINE) -> int:
    """The rules a recorded slo/baseline.json was made with: its `regression_method`, 1 without one."""
    return recorded_method(recorded, "regression_method", default=1, latest=REGRESSION_METHOD, source=source)


def _guard(
    row: dict[str, Any],
    policy: RegressionPolicy,
    current: list[str] | None,
    baseline: list[str] | None,
) -> dict[str, Any]:
    """No change is called when only one side's client was saturated: its delay is its own.

    Saturation only adds delay, so a change found with one side saturated may be the client's;
    the row keeps its figures, its verdict becomes undecided (WARN, INCONCLUSIVE under `fail`)
    and the reason says which side. Both sides saturated: they share the noise, so the figures
    stand, with the note.
    """
    if not current and not baseline:
        return row
    note = {"current": current or [], "baseline": baseline or []}
    changed = row.get("classification") not in (None, "no_change")
    if bool(current) != bool(baseline) and changed:
        side = "this RC's" if current else "the baseline's"
        why = "; ".join(current or baseline or [])
        return row | {
            "measurement_health": note,
            "verdict": _undecided(policy).value,
            "reason": (
                f"{row['reason']}; not called: only {side} measurement was saturated ({why}), "
                "so the change may be the client's own delay"
            ),
        }
    return row | {"measurement_health": note}


def _latency_row(
    slo: Slo,
    spec: SloSpec,
    current: Samples,
    baseline: Samples,
    design: str = SEQUENTIAL,
    method: int = REGRESSION_METHOD,
) -> dict[str, Any]:
    policy, q = spec.regression, slo.quantile or 0.95
    x, y = latencies(slo.source, current), latencies(slo.source, baseline)
    row: dict[str, Any] = {
        "slo": slo.name,
        "kind": "latency",
        "op": slo.source,
        "quantile": q,
        "current": _latency_side(x, q),
        "baseline": _latency_side(y, q),
        "method": SHIFT_METHOD,
    }
    floor = policy.material_floor_ms(slo.threshold) if method >= 2 else 0.0
    if method >= 2:
        sides = (row["current"]["p95_ms"], row["baseline"]["p95_ms"])
        row["min_shift_ms"] = floor
        row["p95_diff_ms"] = None if None in sides else sides[0] - sides[1]
    if min(x.len(), y.len()) < MIN_COMPARED_SAMPLES:
        return row | _not_compared(policy, x.len(), y.len(), row)
    result, ratio = _latency_result(slo, spec, (current, baseline), (x, y), design, method, row)
    classification = classify_shift(result.shift, floor, row.get("p95_diff_ms"))
    figures = _latency_figures(row, q, spec.confidence, result, ratio, classification)
    if classification == "no_change" and classify_shift(result.shift, 0.0) != "no_change":
        figures += f" (detected, but the shift and the p{q * 100:g} difference are within the {significant(floor, 4)} ms materiality floor)"
    verdict, why = _latency_verdict(policy, classification, ratio, f"p{q * 100:g}")
    return row | {
        "shift_ms": result.shift.as_json(),
        "p95_ratio": ratio.as_json(),
        **_judgement(result, classification, verdict, f"{figures}; {why}"),
        "cdf": {"current": _cdf(x), "baseline": _cdf(y)},
    }


def classify_shift(s: Estimate, floor_ms: float, p95_diff_ms: float | None = None) -> str:
    """`slower` when the whole interval is above 0 and the change is material: the shift's
    estimate or the difference of the two sides' p95s (`p95_diff_ms`, this RC's minus the
    baseline's) at least the floor; `faster` the mirror image; `no_change` otherwise. Floor 0 is
    the rule before the floor (an estimate lies inside its interval)."""
    tail = p95_diff_ms if p95_diff_ms is not None else 0.0
    if s.lower is not None and s.lower > 0 and max(s.estimate, tail) >= floor_ms:
        return "slower"
    if s.upper is not None and s.upper < 0 and min(s.estimate, tail) <= -floor_ms:
        return "faster"
    return "no_change"


def _latency_result(
    slo: Slo,
    spec: SloSpec,
    sides: tuple[Samples, Samples],
    values: tuple[pl.Series, pl.Series],
    design: str,
    method: int,
    row: dict[str, Any],
) -> tuple[ShiftResult | PairedRow, Estimate]:
    """The shift and the quantile ratio: paired under the concurrent design where the samples allow
    (time windows; the fan-out probe's ABBA rounds from method 2), else the two-sample figures.
    Sets the row's `method` (and `windows` / `rounds`) to what was used."""
    q, (current, baseline) = slo.quantile or 0.95, sides
    paired, unit = None, "windows"
    if design == CONCURRENT and slo.source != "fanout":
        paired = paired_shift(
            timed_latencies(slo.source, current), timed_latencies(slo.source, baseline), q, spec.confidence
        )
        if paired is not None:
            row["method"] = PAIRED_METHOD
    elif design == CONCURRENT and method >= 2:
        paired, unit = (
            paired_rounds(timed_fanout(current), timed_fanout(baseline), q, spec.confidence),
            "rounds",
        )
        if paired is not None:
            row["method"] = ROUNDS_METHOD
    if paired is not None:
        row[unit] = paired.windows
        result = PairedRow(paired.shift, paired.p_value, paired.effect_size, paired.n_eff, paired.n_eff)
        return result, paired.quantile_ratio
    x, y = values
    return shift(x, y, spec.confidence), quantile_ratio(x, y, q, spec.confidence)


def _latency_figures(
    row: dict[str, Any],
    q: float,
    confidence: float,
    result: ShiftResult | PairedRow,
    ratio: Estimate,
    classification: str,
) -> str:
    s, label = result.shift, f"p{q * 100:g}"
    return (
        f"{label} {significant(row['current']['p95_ms'], 4)} ms vs {significant(row['baseline']['p95_ms'], 4)} ms "
        f"(ratio {significant(ratio.estimate, 4)}, {level(confidence)} CI {bounds(ratio.lower, ratio.upper, 4)}); "
        f"shift {signed(s.estimate)} ms, CI {bounds(s.lower, s.upper, 4)} ms; "
        f"Mann-Whitney p = {result.p_value:.3g}, Cliff's delta {result.effect_size:+.3f}: {classification}"
    )


def _latency_verdict(
    policy: RegressionPolicy, classification: str, ratio: Estimate, label: str
) -> tuple[Verdict, str]:
    """The regression policy on a latency row: the p95 ratio against 1 + max_p95_increase_pct."""
    limit = 1.0 + policy.max_p95_increase_pct / 100.0
    tolerance = f"+{policy.max_p95_increase_pct:g} % on {label}"
    if classification == "slower" and ratio.lower is not None and ratio.lower > limit:
        return _on_regression(policy), f"a regression beyond {tolerance}"
    if classification == "slower" and (ratio.upper is None or ratio.estimate > limit):
        return _undecided(policy), f"slower, and the interval cannot show it within {tolerance}"
    if classification == "slower":
        return Verdict.PASS, f"slower, within {tolerance}"
    return Verdict.PASS, "no regression"


def _rate_row(slo: Slo, spec: SloSpec, current: Samples, baseline: Samples) -> dict[str, Any]:
    policy = spec.regression
    x, y = failures(slo.source, current), failures(slo.source, baseline)
    row: dict[str, Any] = {
        "slo": slo.name,
        "kind": "error_rate",
        "op": slo.source,
        "current": _rate_side(x),
        "baseline": _rate_side(y),
        "method": RATE_METHOD,
    }
    if min(x.len(), y.len()) < MIN_COMPARED_SAMPLES:
        return row | _not_compared(policy, x.len(), y.len(), row)
    result = rate_difference(x, y, spec.confidence)
    d = result.difference
    if d.lower is None or d.upper is None:  # rate_difference always bounds both sides
        raise ValueError(f"{slo.name}: the error-rate difference came without both bounds")
    pp = {"estimate": d.estimate * 100, "lower": d.lower * 100, "upper": d.upper * 100}
    classification = "higher" if pp["lower"] > 0 else "lower" if pp["upper"] < 0 else "no_change"
    limit = policy.max_error_rate_increase_pp
    figures = (
        f"error rate {significant(row['current']['rate_pct'], 4)}% vs {significant(row['baseline']['rate_pct'], 4)}%: "
        f"difference {signed(pp['estimate'])} pp, {level(spec.confidence)} CI {bounds(pp['lower'], pp['upper'], 4)} pp; "
        f"p = {result.p_value:.3g}, Cohen's h {result.effect_size:+.3f}: {classification}"
    )
    tolerance = f"+{limit:g} percentage points"
    if classification == "higher" and pp["lower"] > limit:
        verdict, why = _on_regression(policy), f"a regression beyond {tolerance}"
    elif classification == "higher" and pp["estimate"] > limit:
        verdict, why = _undecided(policy), f"higher, and the interval cannot show it within {tolerance}"
    elif classification == "higher":
        verdict, why = Verdict.PASS, f"higher, within {tolerance}"
    else:
        verdict, why = Verdict.PASS, "no regression"
    return row | {
        "rate_diff": pp,
        **_judgement(result, classification, verdict, f"{figures}; {why}"),
    }


@dataclass(frozen=True)
class PairedRow:
    """A paired result in the shape `_judgement` reads (n_eff: the effective number of windows)."""

    shift: Estimate
    p_value: float
    effect_size: float
    n_eff_current: float
    n_eff_baseline: float


def _judgement(
    result: ShiftResult | RateResult | PairedRow, classification: str, verdict: Verdict, reason: str
) -> dict[str, Any]:
    """What a latency and a rate comparison both end with: the test, the effect, the verdict."""
    return {
        "p_value": result.p_value,
        "effect_size": result.effect_size,
        "n_eff": {"current": result.n_eff_current, "baseline": result.n_eff_baseline},
        "classification": classification,
        "verdict": verdict.value,
        "reason": reason,
    }


def latencies(source: str, samples: Samples) -> pl.Series:
    """The SLO's latencies in time order (as `slo.metrics` selects them: fan-out counts first arrivals)."""
    if source == "fanout":
        frame = samples.fanout
        if frame is None or frame.is_empty():
            return pl.Series("latency_ms", [], pl.Float64)
        if "status" in frame.columns:
            frame = frame.filter(pl.col("status").is_in([DELIVERED, LATE]))
        order = "received_at" if "received_at" in frame.columns else None
        return (frame.sort(order) if order else frame)["latency_ms"].drop_nulls()
    column = "ingest_ms" if source == "ingest" else "latency_ms"
    frame = _requests("write" if source == "ingest" else source, samples)
    if frame is None:
        return pl.Series(column, [], pl.Float64)
    return frame[column].drop_nulls()


def timed_latencies(source: str, samples: Samples) -> pl.DataFrame:
    """The SLO's latencies with their time (`t`, epoch seconds) as `value`: what the paired design reads."""
    column = "ingest_ms" if source == "ingest" else "latency_ms"
    frame = _requests("write" if source == "ingest" else source, samples)
    if frame is None:
        return pl.DataFrame(schema={"t": pl.Float64, "value": pl.Float64})
    return frame.select(
        (pl.col("timestamp").dt.epoch("us").cast(pl.Float64) / 1e6).alias("t"), pl.col(column).alias("value")
    ).drop_nulls()


def timed_fanout(samples: Samples) -> pl.DataFrame:
    """The fan-out deliveries counted (first arrivals) with their publish time (`t`, epoch seconds)
    as `value`: the round pairing reads the publish times to find the probe's rounds."""
    frame = samples.fanout
    if frame is None or frame.is_empty() or "published_at" not in frame.columns:
        return pl.DataFrame(schema={"t": pl.Float64, "value": pl.Float64})
    if "status" in frame.columns:
        frame = frame.filter(pl.col("status").is_in([DELIVERED, LATE]))
    return frame.select(
        (pl.col("published_at").dt.epoch("us").cast(pl.Float64) / 1e6).alias("t"),
        pl.col("latency_ms").alias("value"),
    ).drop_nulls()


def failures(source: str, samples: Samples) -> pl.Series:
    """True for each failed request of `source`, in time order."""
    frame = _requests(source, samples)
    if frame is None:
        return pl.Series("failed", [], pl.Boolean)
    return (~frame["ok"]).alias("failed")


def _requests(source: str, samples: Samples) -> pl.DataFrame | None:
    frames = [
        frame
        for op, frame in (("read", samples.read), ("write", samples.write))
        if frame is not None and not frame.is_empty() and source in (op, "all")
    ]
    if not frames:
        return None
    # time order matters: the intervals estimate the samples' serial dependence from it
    return pl.concat(frames, how="vertical").sort("timestamp", maintain_order=True)


def _not_compared(policy: RegressionPolicy, n_current: int, n_baseline: int, row: dict) -> dict[str, Any]:
    return {
        "shift_ms": None,
        "p95_ratio": None,
        "p_value": None,
        "effect_size": None,
        "classification": None,
        "verdict": _undecided(policy).value,
        "reason": (
            f"not compared: {n_current} samples in this RC and {n_baseline} in the baseline; "
            f"at least {MIN_COMPARED_SAMPLES} on each side are needed"
        ),
        **({"cdf": None} if row["kind"] == "latency" else {"rate_diff": None}),
    }


def _on_regression(policy: RegressionPolicy) -> Verdict:
    return Verdict.FAIL if policy.on_regression == "fail" else Verdict.WARN


def _undecided(policy: RegressionPolicy) -> Verdict:
    return Verdict.INCONCLUSIVE if policy.on_regression == "fail" else Verdict.WARN


def _latency_side(values: pl.Series, q: float) -> dict[str, Any]:
    if values.len() == 0:
        return {"n": 0, "p95_ms": None}
    return {"n": values.len(), "p95_ms": quantile_type7(values.sort(), q)}


def _rate_side(failed: pl.Series) -> dict[str, Any]:
    n = failed.len()
    count = int(failed.sum()) if n else 0
    return {"n": n, "failures": count, "rate_pct": count / n * 100 if n else None}


def _cdf(values: pl.Series) -> list[list[float]]:
    """101 points [ms, p] of the empirical CDF, p = 0, 0.01, ..., 1 (k6's percentile)."""
    ordered = values.sort()
    return [[quantile_type7(ordered, i / (CDF_POINTS - 1)), i / (CDF_POINTS - 1)] for i in range(CDF_POINTS)]
