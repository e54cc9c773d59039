"""`report/index.html`: one self-contained page, verdict first, every chart inline as SVG.

It opens offline and fetches nothing: no script, no font, no stylesheet from anywhere (its
Content-Security-Policy forbids it too), so the signed bytes are all there is to see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from verification_pipeline.report import charts
from verification_pipeline.report.authz import authz_section
from verification_pipeline.report.budget import budget_rows, figure, headline, interval
from verification_pipeline.report.cost import cost_section
from verification_pipeline.report.health import client_health
from verification_pipeline.report.markdown import number, shift_text
from verification_pipeline.report.overload import overload_section
from verification_pipeline.report.tables import table
from verification_pipeline.slo.document import health_line
from verification_pipeline.slo.metrics import (
    DEPENDENCE_COLUMNS,
    SLO_METRICS_SCHEMA,
    cannot_exclude,
    slo_latencies,
)
from verification_pipeline.textsafe import for_html, mark_verdict_words
from verification_pipeline.verdict import Verdict

# Per-SLO keys of slo/metrics.json that are the figure itself; any other key is a diagnostic.
_FIGURE_KEYS = (frozenset(SLO_METRICS_SCHEMA) - frozenset(DEPENDENCE_COLUMNS)) | {"diagnostics"}
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#212121}
h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.verdict{padding:1em 1.2em;border-radius:6px;color:#fff;font-size:1.3em}
.PASS{background:#2e7d32}.WARN{background:#f9a825;color:#212121}.INCONCLUSIVE{background:#6d4c41}
.INCOMPLETE{background:#546e7a}.FAIL{background:#c62828}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
.panel{border:2px dashed #9e9e9e;padding:1em;border-radius:6px;background:#fafafa}
.muted{color:#666}
"""


@dataclass(frozen=True)
class ReportInputs:
    """What the report is drawn from: the RC, the signed documents and the raw frames."""

    rc: str
    commit: str
    verdict: Verdict
    """The RC's one verdict (`gates.rc_verdict` over its gates and missing files), as the bundle signs it."""
    metrics: Mapping[str, Any]
    """slo/metrics.json"""
    scan_summary: Mapping[str, Any]
    read: pl.DataFrame
    write: pl.DataFrame
    fanout: pl.DataFrame
    baseline: Mapping[str, Any] | None = None
    """slo/baseline.json, when the comparison ran."""
    policies: Sequence[Mapping[str, Any]] | None = None
    """The policy gate's table (one row per rule and file: policy, target, passed, failed, messages)."""
    overload: Mapping[str, Any] | None = None
    """slo/overload.json, when the bundle has one (issue 22)."""
    cost: Mapping[str, Any] | None = None
    """cost/resources.json: cost per request against the baseline RC."""
    authz: Mapping[str, Any] | None = None
    """policy/authz_under_load.json: forbidden requests sent during the load, per kind."""


def render_report(inputs: ReportInputs) -> bytes:
    """The whole page, UTF-8."""
    verdict = inputs.verdict
    sections = [
        _verdict_section(inputs, verdict),
        _latency_section(inputs),
        _timeline_section(inputs),
        _health_section(inputs),
        _fanout_section(inputs),
        authz_section(inputs.authz),
        overload_section(inputs.overload, _e),
        _baseline_section(inputs),
        _scan_section(inputs),
        _policy_section(inputs),
        cost_section(inputs.cost),
        _diagnostics_section(inputs),
    ]
    title = f"{_e(inputs.rc)}: {_v(verdict)}"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(s for s in sections if s)
        + "\n</body></html>\n"
    )
    return page.encode()


def _e(value: object) -> str:
    """A value inside an element or a quoted attribute: escaped, controls dropped, cut when long,
    a verdict word in it marked as input (`textsafe.mark_verdict_words`) unless it is a Verdict."""
    return for_html(value if isinstance(value, Verdict) else mark_verdict_words(value))


def _v(value: object) -> str:
    """A verdict the pipeline states (a gate's, an area's): shown as the word it is, when it is one."""
    return for_html(value) if str(value) in set(Verdict) else _e(value)


def _figure(name: str, svg: str, caption: str) -> str:
    return f'<figure data-chart="{_e(name)}">{svg}<figcaption>{_e(caption)}</figcaption></figure>'


def _verdict_section(inputs: ReportInputs, verdict: Verdict) -> str:
    rows = "".join(
        f'<tr data-slo="{_e(r.name)}"><td>{_e(r.name)}</td><td>{_v(r.verdict)}</td>'
        f'<td class="num" data-field="value">{_e(r.value_text())}</td>'
        f'<td class="num" data-field="threshold">{_e(figure(r.threshold, r.unit))}</td>'
        f'<td class="num" data-field="interval">{_e(r.interval_text())}</td>'
        f'<td class="num" data-field="share">{_e(r.share_text())}</td><td class="num">{r.n}</td></tr>'
        for r in budget_rows(inputs.metrics)
    )
    commit = f" at commit <code>{_e(inputs.commit[:12])}</code>" if inputs.commit else ""
    return (
        f'<h1>Release candidate {_e(inputs.rc)}</h1><p class="muted">Verification report{commit}; '
        "every figure below is computed from the raw samples signed in this bundle.</p>"
        f'<div class="verdict {_e(verdict)}" id="verdict">{for_html(headline(verdict, inputs.metrics))}</div>'
        f"<p>SLOs: <b>{_v(inputs.metrics.get('verdict'))}</b> · scan gates: "
        f"<b>{_v(inputs.scan_summary.get('verdict'))}</b>"
        + (
            f" · against the baseline: <b>{_v(inputs.baseline.get('verdict'))}</b>"
            if inputs.baseline and inputs.baseline.get("status") == "COMPARED"
            else ""
        )
        + "</p><h2>SLOs, tightest first</h2>"
        + table(
            "slos", ("SLO", "verdict", "value", "threshold", "interval", "share of budget used", "n"), rows
        )
        + _limits(inputs)
    )


def _limits(inputs: ReportInputs) -> str:
    """What each verdict's evidence could have missed (a PASS on too few bursts of failures)."""
    items = "".join(
        f'<li data-limit="{_e(slo["name"])}">{_e(slo["name"])}: {_e(limit)}</li>'
        for slo in inputs.metrics.get("slos") or []
        if (limit := cannot_exclude(slo.get("reason") or ""))
    )
    return f'<p>What these verdicts cannot exclude:</p><ul id="limits">{items}</ul>' if items else ""


def _latency_section(inputs: ReportInputs) -> str:
    parts = []
    for slo in inputs.metrics.get("slos") or []:
        if slo.get("metric") != "quantile":
            continue
        latencies = slo_latencies(
            slo["source"], slo.get("responses"), read=inputs.read, write=inputs.write, fanout=inputs.fanout
        )
        caption = (
            f"{slo['name']}: p{slo['quantile'] * 100:g} {figure(slo.get('value'), 'ms')}, "
            f"interval {interval(slo.get('ci_low'), slo.get('ci_high'), 'ms')}, "
            f"threshold {figure(slo['threshold'], 'ms')}; {slo.get('reason', '')}"
        )
        if latencies.drop_nulls().is_empty():
            parts.append(
                f'<p class="panel" data-chart="cdf-{_e(slo["name"])}">{_e(caption)} (no raw samples to draw)</p>'
            )
            continue
        parts.append(_figure(f"cdf-{slo['name']}", charts.svg(charts.latency_cdf(slo, latencies)), caption))
    return "<h2>Latency distributions</h2>" + "".join(parts) if parts else ""


def _timeline_section(inputs: ReportInputs) -> str:
    samples = pl.concat([inputs.read, inputs.write], how="vertical")
    if samples.is_empty():
        return '<h2>Over the test</h2><p class="panel">No raw load samples in this bundle.</p>'
    thresholds = {
        s["source"]: s["threshold"]
        for s in inputs.metrics.get("slos") or []
        if s.get("metric") == "quantile" and s["source"] in ("read", "write")
    }
    failures = samples.filter(~pl.col("ok")).height
    return (
        "<h2>Over the test</h2>"
        + _figure(
            "timeline",
            charts.svg(charts.timeline(samples, thresholds)),
            f"p95 of successful requests and requests/s per {charts.WINDOW_S} s window; dashed lines are the thresholds.",
        )
        + _figure(
            "errors",
            charts.svg(charts.errors_over_time(samples)),
            f"{failures} failed requests of {samples.height}, by kind: HTTP status, GraphQL error, timeout, dropped.",
        )
    )


def _health_section(inputs: ReportInputs) -> str:
    """Under the latency charts: whether each phase's client measured the service or itself."""
    section = inputs.metrics.get("measurement_health")
    if not section:
        return ""
    return (
        "<h2>Measurement health</h2>"
        + f'<p id="health-line">{_e(health_line(section).replace("**", ""))}</p>'
        + _figure(
            "client-health",
            charts.svg(client_health(section)),
            "CPU use of each phase's client (k6; the fan-out probe with its subscriber processes) and the share of "
            "the time its threads waited for a core; dashed: the slos.yaml limits. A FAIL measured past them is "
            "INCONCLUSIVE.",
        )
    )


def _fanout_section(inputs: ReportInputs) -> str:
    fanout = inputs.metrics.get("fanout") or {}
    slo = next((s for s in inputs.metrics.get("slos") or [] if s.get("source") == "fanout"), None)
    if inputs.fanout.is_empty():
        return (
            '<h2>Subscription fan-out</h2><p class="panel">No raw fan-out deliveries in this bundle'
            + (f" (summary only: p95 {_e(figure(fanout.get('p95_ms'), 'ms'))})" if fanout else "")
            + ".</p>"
        )
    caption = (
        f"{fanout.get('count')} deliveries to {fanout.get('subscribers')} subscribers, "
        f"{fanout.get('late')} late, {fanout.get('lost')} lost, {fanout.get('duplicates')} duplicates; "
        f"delivery ratio {fanout.get('delivery_ratio', 0):.4f}."
    )
    return "<h2>Subscription fan-out</h2>" + _figure(
        "fanout", charts.svg(charts.fanout_distribution(inputs.fanout, slo)), caption
    )


def _baseline_section(inputs: ReportInputs) -> str:
    doc = inputs.baseline
    if not doc or doc.get("status") != "COMPARED":
        reason = (doc or {}).get("reason") or "the comparison did not run for this RC"
        return (
            '<h2>Against the baseline</h2><div class="panel" id="no-baseline"><b>No baseline.</b> '
            f"This RC was not compared with an earlier one: {_e(reason)}. Nothing here is a pass.</div>"
        )
    base = doc.get("baseline") or {}
    entries = doc.get("slos") or []
    rows = "".join(
        f'<tr data-slo="{_e(e["slo"])}"><td>{_e(e["slo"])}</td><td>{_e(e.get("classification", ""))}</td>'
        f'<td>{_v(e.get("verdict", ""))}</td><td class="num">{_e(shift_text(e))}</td>'
        f'<td class="num">{_e(number(e.get("p_value")))}</td><td class="num">{_e(number(e.get("effect_size")))}</td>'
        f"<td>{_e(e.get('method', ''))}</td><td>{_e(e.get('reason', ''))}</td></tr>"
        for e in entries
    )
    figures = "".join(
        _figure(
            f"baseline-{e['slo']}",
            charts.svg(charts.baseline_cdfs(e, inputs.rc, base.get("rc", "baseline"))),
            f"{e['slo']}: {shift_text(e)}",
        )
        for e in entries
        if e.get("kind") == "latency" and (e.get("cdf") or {}).get("current")
    )
    forest = ""
    if any((e.get("shift_ms") or {}).get("estimate") is not None for e in entries):
        forest = _figure(
            "baseline-shifts",
            charts.svg(charts.shifts(entries)),
            "Each shift with its interval; 0 is no change.",
        )
    # which design produced the figures (issue 24): a document without the field is sequential
    where = (
        f"measured beside this RC in the same run (concurrent design, paired by time window) at "
        f"<code>{_e(base.get('graphql_url', ''))}</code>"
        if doc.get("design") == "concurrent"
        else f"sequential design: baseline bundle <code>{_e(base.get('bundle_uri', ''))}</code> "
        f"({'verified' if base.get('verified') else 'NOT verified'})"
    )
    return (
        f"<h2>Against the baseline {_e(base.get('rc', ''))}</h2><p>Verdict <b>{_v(doc.get('verdict'))}</b>; "
        f'<span id="baseline-design">{where}</span>, confidence {_e(doc.get("confidence"))}.</p>'
        + table(
            "baseline",
            (
                "SLO",
                "classification",
                "verdict",
                "shift / difference",
                "p-value",
                "effect size",
                "method",
                "reason",
            ),
            rows,
        )
        + forest
        + figures
    )


def _scan_section(inputs: ReportInputs) -> str:
    rows = "".join(
        f'<tr data-gate="{_e(g["name"])}"><td>{_e(g["name"])}</td><td>{_v(g["verdict"])}</td><td>{_e(g["reason"])}</td></tr>'
        for g in inputs.scan_summary.get("gates") or []
    )
    return "<h2>Scan gates</h2>" + table("scans", ("gate", "verdict", "why"), rows)


def _policy_section(inputs: ReportInputs) -> str:
    """Every rule evaluated on every file, failures first, each with its message."""
    if inputs.policies is None:
        return ""
    ordered = sorted(
        inputs.policies, key=lambda row: (not (row["failed"] or row.get("errors")), str(row["policy"]))
    )
    rows = "".join(
        f'<tr data-policy="{_e(row["policy"])}"><td>{_e(str(row["policy"]).split(" (")[0])}</td>'
        f"<td>{_e(row.get('target') or '')}</td>"
        f"<td>{'FAIL' if row['failed'] or row.get('errors') else 'WARN' if row.get('warnings') else 'PASS'}</td>"
        f"<td>{'<br>'.join(_e(m) for m in row.get('messages') or [])}</td></tr>"
        for row in ordered
    )
    failed = sum(1 for row in inputs.policies if row["failed"] or row.get("errors"))
    return f"<h2>Policies</h2><p>{len(inputs.policies)} rule evaluations, {failed} failed.</p>" + table(
        "policies", ("rule", "file", "result", "message"), rows
    )


def diagnostics(slo: Mapping[str, Any]) -> dict[str, Any]:
    """The dependence diagnostics recorded for one SLO: its dependence columns, a `diagnostics` mapping
    and any key the metrics schema does not know."""
    found = dict(slo.get("diagnostics") or {})
    found.update({k: v for k, v in slo.items() if k not in _FIGURE_KEYS and v is not None})
    return found


def _diagnostics_section(inputs: ReportInputs) -> str:
    per_slo = {s["name"]: diagnostics(s) for s in inputs.metrics.get("slos") or []}
    keys = sorted({k for found in per_slo.values() for k in found})
    if not keys:
        return ""
    rows = "".join(
        f'<tr data-slo="{_e(name)}"><td>{_e(name)}</td>'
        + "".join(f'<td class="num">{_e(_diagnostic_text(found.get(k)))}</td>' for k in keys)
        + "</tr>"
        for name, found in per_slo.items()
    )
    return (
        '<h2>Dependence diagnostics</h2><p class="muted">Requests under load are not independent; '
        "these say how much that matters for each interval.</p>"
        + table("diagnostics", ["SLO", *(_e(k) for k in keys)], rows)
    )


def _diagnostic_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
