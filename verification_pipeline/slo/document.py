"""`slo/metrics.json`: the SLO table, the k6-shaped summaries and the fan-out figures, in one document.

The `slo_metrics` asset and `audit` both build it with `metrics_document`, so an auditor who
recomputes from the bundle's raw Parquet runs exactly the code that produced the figures.
The document carries the slos.yaml it was computed with, so the audit needs nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.layout import SLO_METRICS
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.fanout.metrics import fanout_metrics
from verification_pipeline.formatting import fixed
from verification_pipeline.gates import rc_verdict, slo_gates
from verification_pipeline.health.assess import apply_health, assess, measured_phases
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.loadtest.summary import summarize
from verification_pipeline.slo.metrics import (
    BOUNDS_METHOD,
    dependence_summary,
    recorded_bounds_method,
    slo_rows,
)
from verification_pipeline.slo.spec import load_slo_spec
from verification_pipeline.slo_row import SloRow
from verification_pipeline.verdict import Verdict

DEFAULT_MIN_DELIVERY_RATIO = 1.0


def metrics_document(
    *,
    spec_yaml: str,
    spec_source: str,
    read: pl.DataFrame,
    write: pl.DataFrame,
    fanout: pl.DataFrame,
    fanout_summary_only: dict | None = None,
    min_delivery_ratio: float = DEFAULT_MIN_DELIVERY_RATIO,
    health_phases: list[dict[str, Any]] | None = None,
    bounds_method: int = BOUNDS_METHOD,
) -> dict[str, Any]:
    """Everything `slo/metrics.json` holds. `fanout_summary_only`: a seed fanout.json, when no raw rows exist.

    `health_phases`: each phase's measurement health (`health.assess.phase_record`); when given,
    the document gets a `measurement_health` section and the verdicts a saturated client cannot
    support are changed (`health.assess.apply_health`).

    `bounds_method`: the rules of the bounds (`slo.metrics.BOUNDS_METHOD`); the document records
    it from method 2 on, and a document without it was made with method 1."""
    spec = load_slo_spec(spec_yaml.encode(), source=spec_source)
    has_fanout_rows = fanout.height > 0
    rows = slo_rows(
        spec, read=read, write=write, fanout=fanout if has_fanout_rows else None, method=bounds_method
    )
    fanout_figures = fanout_metrics(fanout) if has_fanout_rows else fanout_summary_only
    if fanout_figures is not None and not has_fanout_rows:
        rows = tuple(_summary_only_fanout(r, fanout_figures) if r.source == "fanout" else r for r in rows)
    health = assess(health_phases, spec.measurement_health) if health_phases is not None else None
    rows = apply_health(rows, health)
    verdict = rc_verdict(slo_gates(rows, fanout_figures, min_delivery_ratio))
    document = {
        "slos": [row.as_json() for row in rows],
        "summaries": summarize(pl.concat([read, write], how="vertical")),
        "fanout": fanout_figures,
        "min_delivery_ratio": min_delivery_ratio,
        "verdict": verdict.value,
        "spec": {"source": spec_source, "yaml": spec_yaml},
    }
    # Only when measured: a bundle from before (or an import of CI's files) keeps its old shape.
    document |= {"measurement_health": health} if health is not None else {}
    # Only from method 2 on: an older bundle recomputes to its own shape and figures.
    return document | ({"bounds_method": bounds_method} if bounds_method >= 2 else {})


def _summary_only_fanout(row: SloRow, fanout: dict) -> SloRow:
    """A seed fanout.json has a p95 but no raw points: no bound can be computed, so neither a
    PASS nor a FAIL can be shown at the configured level; the point estimate is reported."""
    value = fanout["p95_ms"]
    side = "above" if value > row.threshold else "at or below"
    reason = (
        f"summary-only evidence (a seed fanout.json, no raw deliveries): p95 {value:g} ms over "
        f"{fanout['count']} events, {side} the {row.threshold:g} ms threshold as a point estimate; "
        f"without raw deliveries no {row.confidence * 100:g}% bound can be computed, so the sample cannot decide"
    )
    return row.model_copy(
        update={
            "n": fanout["count"],
            "value": value,
            "ci_low": None,
            "ci_high": None,
            "verdict": Verdict.INCONCLUSIVE,
            "reason": reason,
            "interval_method": None,
        }
    )


def slo_table_markdown(document: dict[str, Any]) -> str:
    """The SLO table of a metrics document as markdown, the bounds' level named from its rows."""
    rows = document["slos"]
    level = f"{rows[0]['confidence'] * 100:g} %" if rows else ""
    lines = [
        f"**SLOs: {document['verdict']}**",
        "",
        f"| SLO | n | value | threshold | one-sided {level} bounds | dependence | verdict | reason |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['name']} | {r['n']} | {fixed(r['value'])} | <= {r['threshold']:g} {r['unit']} | "
        f"[{fixed(r['ci_low'])}, {fixed(r['ci_high'])}] | {dependence_summary(r)} | **{r['verdict']}** | {r['reason']} |"
        for r in rows
    ]
    if (health := document.get("measurement_health")) is not None:
        lines += ["", health_line(health)]
    return "\n".join(lines)


def health_line(health: Mapping[str, Any]) -> str:
    """One line on whether the clients measured the service: for the SLO table and the demo's screen."""
    status, detail = health_summary(health)
    return f"**Measurement health: {status}** ({detail})"


def health_summary(health: Mapping[str, Any]) -> tuple[str, str]:
    """(status, detail) of a `measurement_health` section: "OK" with the clients' figures, or
    "client saturated" with which phase and why (the release documents set them in their own markup)."""
    phases = health.get("phases", [])
    saturated = [p for p in phases if p.get("saturated")]
    if not saturated:
        figures = ", ".join(
            f"{p['phase']} {p['client']} CPU max {_pct_or_na(p.get('client_cpu_pct_max'))}"
            + (
                f", loop lag p99 {p['loop_lag_p99_ms']:.1f} ms"
                if p.get("loop_lag_p99_ms") is not None
                else ""
            )
            for p in phases
        )
        return "OK", f"no client saturated; {figures}"
    return "client saturated", "; ".join(f"{p['phase']}: {', '.join(p['reasons'])}" for p in saturated)


def _pct_or_na(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def recompute_bundle_metrics(frames: dict[str, pl.DataFrame], recorded: dict[str, Any]) -> dict[str, Any]:
    """The document again, from a bundle's raw/*.parquet and the slos.yaml recorded in it."""
    spec = recorded.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("yaml"), str):
        raise FormatError(
            "missing: the slos.yaml the figures were computed with", source=SLO_METRICS, field="spec.yaml"
        )
    ratio = recorded.get("min_delivery_ratio", DEFAULT_MIN_DELIVERY_RATIO)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float):
        raise FormatError(f"{ratio!r} is not a number", source=SLO_METRICS, field="min_delivery_ratio")
    fanout = frames.get("fanout", pl.DataFrame(schema=DELIVERY_SCHEMA))
    summary_only = recorded.get("fanout") if fanout.height == 0 else None
    if summary_only is not None and not _is_fanout_summary(summary_only):
        raise FormatError(
            "not a fan-out summary with a p95_ms and a count", source=SLO_METRICS, field="fanout"
        )
    return metrics_document(
        spec_yaml=spec.get("yaml", ""),
        spec_source=str(spec.get("source", "slos.yaml")),
        read=frames.get("read", pl.DataFrame(schema=SAMPLE_SCHEMA)),
        write=frames.get("write", pl.DataFrame(schema=SAMPLE_SCHEMA)),
        fanout=fanout,
        fanout_summary_only=summary_only,
        min_delivery_ratio=float(ratio),
        health_phases=measured_phases(recorded.get("measurement_health")),
        # 1 for a document made before it said
        bounds_method=recorded_bounds_method(recorded, default=1, source=SLO_METRICS),
    )


def _is_fanout_summary(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(k), int | float) and not isinstance(value.get(k), bool)
        for k in ("p95_ms", "count")
    )
