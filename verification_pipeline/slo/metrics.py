"""`slo_metrics`: one row per SLO with n, value, threshold, confidence interval and verdict.

The verdict answers "does the evidence show value <= threshold?":
- FAIL when the whole confidence interval lies above the threshold (more data would not help);
- PASS when the whole interval lies at or below it and the sample has at least `min_samples`;
- INCONCLUSIVE otherwise, with the reason: no data, too few samples, or an interval that
  includes the threshold. For example 0 failures in 3,000 requests cannot show <= 0.1 % at
  95 %: the exact upper bound is 0.123 %; 3,688 failure-free requests are needed.

Sources: `read` / `write` are the load samples of that op (`ingest.SAMPLE_SCHEMA`), `all`
both together, `ingest` the writes' `ingest_ms`, `fanout` the first arrivals (delivered or
late) of the fan-out probe's deliveries (`fanout.accounting.DELIVERY_SCHEMA`).
"""

from __future__ import annotations

import polars as pl

from verification_pipeline.fanout.accounting import DELIVERED, LATE
from verification_pipeline.loadtest.ingest import FAILURE_KINDS
from verification_pipeline.slo.spec import Slo, SloSpec
from verification_pipeline.slo.stats import (
    clopper_pearson,
    quantile_ci,
    quantile_type7,
    quantile_upper_sample_size,
    zero_failure_sample_size,
)

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"

SLO_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "metric": pl.String(),
    "source": pl.String(),
    "quantile": pl.Float64(),
    "n": pl.Int64(),
    "failures": pl.Int64(),
    "value": pl.Float64(),
    "threshold": pl.Float64(),
    "unit": pl.String(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "confidence": pl.Float64(),
    "verdict": pl.String(),
    "reason": pl.String(),
}

_LATENCY_WORDS = {
    "read": "read latencies",
    "write": "write latencies",
    "all": "request latencies",
    "ingest": "write ingest times",
    "fanout": "fan-out delivery latencies",
}
_REQUEST_WORDS = {"read": "read requests", "write": "write requests", "all": "requests"}


def compute_slo_metrics(
    spec: SloSpec,
    *,
    read: pl.DataFrame | None = None,
    write: pl.DataFrame | None = None,
    fanout: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Evaluate every SLO of `spec` on the samples given; a source not given has n = 0."""
    requests = {"read": read, "write": write, "all": _both(read, write)}
    rows = []
    for slo in spec.slos:
        if slo.metric == "quantile":
            rows.append(
                evaluate_quantile(slo, _latencies(slo.source, requests, write, fanout), spec.confidence)
            )
        else:
            rows.append(evaluate_rate(slo, requests[slo.source], spec.confidence))
    return pl.DataFrame(rows, schema=SLO_METRICS_SCHEMA, orient="row")


def evaluate_quantile(slo: Slo, latencies: pl.Series, confidence: float) -> tuple:
    """One SLO_METRICS_SCHEMA row for a latency quantile."""
    ordered = latencies.drop_nulls().sort()
    n = ordered.len()
    words = _LATENCY_WORDS[slo.source]
    label = f"p{slo.quantile * 100:g}"
    if n == 0:
        return _row(slo, confidence, n, None, None, None, None, INCONCLUSIVE, f"no {words} were measured")
    value = quantile_type7(ordered, slo.quantile)
    low_rank, high_rank = quantile_ci(n, slo.quantile, confidence)
    low = ordered[low_rank - 1] if low_rank else None
    high = ordered[high_rank - 1] if high_rank else None
    measured = (
        f"{label} of {n} {words} is {_num(value)} ms; its {_pct(confidence)} CI is {_interval(low, high)} ms"
    )
    verdict, why = _decide(slo, n, low, high, f"{_num(slo.threshold)} ms")
    if verdict == INCONCLUSIVE and high is None and n >= slo.min_samples:
        why = (
            f"too few samples to bound {label} from above at {_pct(confidence)}: "
            f"at least {quantile_upper_sample_size(slo.quantile, confidence)} are needed"
        )
    return _row(slo, confidence, n, None, value, low, high, verdict, f"{measured}: {why}")


def evaluate_rate(slo: Slo, requests: pl.DataFrame | None, confidence: float) -> tuple:
    """One SLO_METRICS_SCHEMA row for the share of failed requests, in percent."""
    words = _REQUEST_WORDS[slo.source]
    if requests is None or requests.is_empty():
        return _row(slo, confidence, 0, 0, None, None, None, INCONCLUSIVE, f"no {words} were measured")
    n = requests.height
    failed = requests.filter(~pl.col("ok"))
    failures = failed.height
    low, high = (bound * 100 for bound in clopper_pearson(failures, n, confidence))
    value = failures / n * 100
    kinds = dict(failed.group_by("failure").len().iter_rows())
    breakdown = ", ".join(f"{kinds[kind]} {kind}" for kind in FAILURE_KINDS if kinds.get(kind))
    measured = (
        f"{failures} of {n} {words} failed ({_num(value)}%{'; ' + breakdown if breakdown else ''}); "
        f"its {_pct(confidence)} CI is {_interval(low, high)}%"
    )
    verdict, why = _decide(slo, n, low, high, f"{_num(slo.threshold)}%")
    if verdict == INCONCLUSIVE and failures == 0 and n >= slo.min_samples:
        needed = zero_failure_sample_size(slo.threshold / 100, confidence)
        why += f"; {needed} requests without a failure would be needed to show it"
    return _row(slo, confidence, n, failures, value, low, high, verdict, f"{measured}: {why}")


def _decide(slo: Slo, n: int, low: float | None, high: float | None, threshold: str) -> tuple[str, str]:
    if low is not None and low > slo.threshold:
        return FAIL, f"the whole interval is above the {threshold} threshold"
    if n < slo.min_samples:
        return (
            INCONCLUSIVE,
            f"only {n} samples, and the SLO asks for at least {slo.min_samples} before a pass",
        )
    if high is not None and high <= slo.threshold:
        return PASS, f"the whole interval is at or below the {threshold} threshold"
    return INCONCLUSIVE, f"the interval includes the {threshold} threshold, so the sample cannot decide"


def _latencies(
    source: str,
    requests: dict[str, pl.DataFrame | None],
    write: pl.DataFrame | None,
    fanout: pl.DataFrame | None,
) -> pl.Series:
    empty = pl.Series("latency_ms", [], pl.Float64)
    if source == "ingest":
        return write["ingest_ms"] if write is not None else empty
    if source == "fanout":
        if fanout is None:
            return empty
        arrived = (
            fanout.filter(pl.col("status").is_in([DELIVERED, LATE])) if "status" in fanout.columns else fanout
        )
        return arrived["latency_ms"]
    frame = requests[source]
    return frame["latency_ms"] if frame is not None else empty


def _both(read: pl.DataFrame | None, write: pl.DataFrame | None) -> pl.DataFrame | None:
    frames = [frame for frame in (read, write) if frame is not None]
    return pl.concat(frames, how="vertical") if frames else None


def _row(slo: Slo, confidence: float, n, failures, value, low, high, verdict: str, reason: str) -> tuple:
    return (
        slo.name,
        slo.metric,
        slo.source,
        slo.quantile,
        n,
        failures,
        value,
        slo.threshold,
        slo.unit,
        low,
        high,
        confidence,
        verdict,
        reason,
    )


def _num(value: float) -> str:
    return f"{value:.6g}"


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _interval(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else _num(low)}, {'+inf' if high is None else _num(high)}]"


def slo_latencies(
    source: str,
    *,
    read: pl.DataFrame | None = None,
    write: pl.DataFrame | None = None,
    fanout: pl.DataFrame | None = None,
) -> pl.Series:
    """The latencies a quantile SLO of `source` is computed from, for a chart that must match its figure."""
    return _latencies(source, {"read": read, "write": write, "all": _both(read, write)}, write, fanout)
