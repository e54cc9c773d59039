"""The key charts as markdown with the images inline (PNG data URIs), for Dagster asset metadata.

The Dagster UI renders markdown metadata and its `data:` images, so a person sees the
distributions beside the figures without opening the bundle. PNG, not SVG: small and shown
the same in every browser's `<img>`. Every text that comes from an input (an SLO's name, a
reason, an RC tag, a unit, a URI) goes through `textsafe` first: it is shown, never laid out.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

import polars as pl
from matplotlib.figure import Figure

from verification_pipeline.report import charts
from verification_pipeline.report.budget import budget_rows, figure
from verification_pipeline.slo.metrics import slo_latencies
from verification_pipeline.textsafe import for_code_span, for_markdown, for_terminal, mark_verdict_words
from verification_pipeline.verdict import Verdict

PNG_DPI = 64


def _image(alt: str, fig: Figure) -> str:
    shown = for_markdown(alt, 200).replace("[", "\\[").replace("]", "\\]")
    return f"![{shown}]({charts.png_data_uri(fig, dpi=PNG_DPI)})"


def _md(value: object) -> str:
    """An input's text as inert Markdown (a table cell, a line), a verdict word in it marked as input."""
    return for_markdown(mark_verdict_words("" if value is None else value))


def _verdict(value: object) -> str:
    """A verdict the pipeline states, as its word; anything else is input text."""
    return for_markdown(value) if str(value) in set(Verdict) else _md(value)


def slo_charts_markdown(
    metrics: Mapping[str, Any], *, read: pl.DataFrame, write: pl.DataFrame, fanout: pl.DataFrame
) -> str:
    """Each latency SLO's ECDF with threshold and interval, then p95 and throughput over the test."""
    parts = []
    for slo in metrics.get("slos") or []:
        if slo.get("metric") != "quantile":
            continue
        latencies = slo_latencies(slo["source"], slo.get("responses"), read=read, write=write, fanout=fanout)
        if latencies.drop_nulls().is_empty():
            parts.append(f"**{_md(slo['name'])}**: no raw samples to draw")
            continue
        parts.append(_image(f"{slo['name']} ECDF", charts.latency_cdf(slo, latencies)))
    samples = pl.concat([read, write], how="vertical")
    if not samples.is_empty():
        thresholds = {
            s["source"]: s["threshold"]
            for s in metrics.get("slos") or []
            if s.get("metric") == "quantile" and s["source"] in ("read", "write")
        }
        parts.append(_image("p95 and throughput per 10 s window", charts.timeline(samples, thresholds)))
        parts.append(_image("failures per 10 s window by kind", charts.errors_over_time(samples)))
    return "\n\n".join(parts)


def fanout_chart_markdown(fanout: pl.DataFrame, slo: Mapping[str, Any] | None = None) -> str:
    """The delivery latency distribution and late/lost per subscriber."""
    if fanout.is_empty():
        return "no raw fan-out deliveries to draw"
    return _image("fan-out delivery latency", charts.fanout_distribution(fanout, slo))


def comparison_chart_markdown(baseline_doc: Mapping[str, Any] | None) -> str:
    """`slo/baseline.json` for the UI: the table, the shifts with intervals and the overlaid CDFs.

    Says plainly when there is no baseline: no comparison is never shown as a pass.
    """
    if not baseline_doc or baseline_doc.get("status") != "COMPARED":
        reason = (baseline_doc or {}).get("reason") or "the comparison did not run"
        return f"**No baseline**: {_md(reason)}. This RC was not compared with an earlier one."
    base = baseline_doc.get("baseline") or {}
    entries = baseline_doc.get("slos") or []
    rows = "\n".join(
        f"| {_md(e['slo'])} | {_md(e.get('classification', ''))} | **{_verdict(e.get('verdict', ''))}** | {shift_text(e)} | "
        f"{number(e.get('p_value'))} | {number(e.get('effect_size'))} |"
        for e in entries
    )
    parts = [
        f"**Against {_md(base.get('rc', 'the baseline'))}: {_verdict(baseline_doc.get('verdict'))}**",
        (
            "| SLO | classification | verdict | shift [interval] | p-value | effect size |\n"
            f"| --- | --- | --- | --- | --- | --- |\n{rows}"
        ),
    ]
    if any((e.get("shift_ms") or {}).get("estimate") is not None for e in entries):
        parts.append(_image("shifts with intervals", charts.shifts(entries)))
    parts += [
        _image(
            f"{e['slo']} against the baseline",
            charts.baseline_cdfs(e, baseline_doc.get("rc", ""), base.get("rc", "")),
        )
        for e in entries
        if e.get("kind") == "latency" and (e.get("cdf") or {}).get("current")
    ]
    return "\n\n".join(parts)


def budget_table_markdown(metrics: Mapping[str, Any]) -> str:
    """The SLOs tightest first, with the share of each budget used, figures rounded."""
    rows = "\n".join(
        f"| {_md(r.name)} | **{r.verdict}** | {_md(r.value_text())} | <= {_md(figure(r.threshold, r.unit))} | "
        f"{_md(r.interval_text())} | {r.share_text()} | {r.n} |"
        for r in budget_rows(metrics)
    )
    return (
        "| SLO | verdict | value | threshold | interval | share of budget used | n |\n"
        f"| --- | --- | --- | --- | --- | --- | --- |\n{rows}"
    )


def verify_command(bundle_uri: str, public_key: str, rc: str) -> str:
    """The command that checks a bundle offline with the trusted public key."""
    return f"uv run verification-pipeline verify {shlex.quote(bundle_uri)} --public-key {shlex.quote(public_key)} --rc {shlex.quote(rc)}"


def decision_markdown(
    *,
    rc: str,
    verdict: str,
    why: str,
    metrics: Mapping[str, Any],
    bundle_uri: str,
    public_key: str,
    key_fingerprint: str,
    dev_key: bool,
) -> str:
    """What `release_decision` shows: its verdict (the one the bundle signs), the DEV-key warning, the SLOs
    tightest first, how to verify."""
    warning = (
        "> **DEV KEY**: this bundle is signed with the embedded stack's generated development key. "
        "It is not release evidence.\n\n"
        if dev_key
        else ""
    )
    # a PASS is said in the title; under any other verdict the reasons (gate findings, which
    # quote scan content) show no verdict word of their own
    why_text = for_markdown(why) if str(verdict) == Verdict.PASS else _md(why)
    command = for_terminal(verify_command(bundle_uri, public_key, rc), 4000)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", command)), default=0))
    return (
        f"# {_md(rc)}: {_verdict(verdict)}\n\n{warning}{why_text}\n\n"
        f"## SLOs, tightest first\n\n{budget_table_markdown(metrics)}\n\n"
        f"## Verify the bundle\n\n{fence}\n{command}\n{fence}\n\n"
        f"Signing key fingerprint {for_code_span(key_fingerprint)}{' (DEV)' if dev_key else ''}."
    )


def shift_text(entry: Mapping[str, Any]) -> str:
    """A comparison's shift (ms) or rate difference (percentage points) with its interval."""
    for key, unit in (("shift_ms", "ms"), ("rate_diff", "pp")):
        value = entry.get(key) or {}
        if value.get("estimate") is not None:
            return f"{value['estimate']:+.3g} {unit} [{number(value.get('lower'))}, {number(value.get('upper'))}]"
    return "n/a"


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"
