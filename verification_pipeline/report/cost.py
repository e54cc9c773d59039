"""The report's cost section: CPU seconds per 1,000 requests per load phase, against the baseline RC."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification_pipeline.report import charts
from verification_pipeline.report.tables import table
from verification_pipeline.textsafe import for_html

MIB = 1 << 20


def _text(value: float | None, form: str) -> str:
    return "n/a" if value is None else format(value, form)


def cost_chart(document: Mapping[str, Any]) -> str:
    """Horizontal bars per phase: this RC's preferred figure and the baseline's (an `<svg>`; "" with none)."""
    phases = [(p, f) for p, f in (document.get("phases") or {}).items() if f.get("preferred_source")]
    if not phases:
        return ""
    by_phase = {c["phase"]: c for c in document.get("comparisons") or []}
    fig = charts._figure(height=1.0 + 0.6 * len(phases), left_in=1.2)
    ax = fig.add_subplot()
    for i, (phase, figures) in enumerate(phases):
        ours = figures["sources"][figures["preferred_source"]]["cpu_seconds_per_1000_requests"]
        ax.barh(i + 0.18, ours, height=0.34, color="#1f77b4", label="this RC" if i == 0 else None)
        compared = by_phase.get(phase)
        if compared:
            base = compared["baseline_cpu_seconds_per_1000_requests"]
            ax.barh(
                i - 0.18,
                base,
                height=0.34,
                color="#aaaaaa",
                label=_baseline_label(document) if i == 0 else None,
            )
            limit = base * (1 + compared["max_increase_pct"] / 100.0)
            ax.plot([limit, limit], [i - 0.4, i + 0.4], color="#d62728", linestyle="--")
    ax.set_yticks(range(len(phases)), [p for p, _ in phases])
    ax.set_xlabel("CPU seconds per 1,000 requests (dashed: the baseline's plus the allowed rise)")
    ax.legend(fontsize=8, loc="lower right")
    return charts.svg(charts._styled(fig))


def _baseline_label(document: Mapping[str, Any]) -> str:
    baseline = document.get("baseline") or {}
    if baseline.get("design") == "concurrent":
        return f"baseline {baseline.get('rc')}, measured beside it (same run)"
    return f"baseline {baseline.get('rc')}" if baseline.get("rc") else "baseline"


def cost_section(document: Mapping[str, Any] | None) -> str:
    """The section: verdict and reason, the chart, and one table row per (phase, source)."""
    if not document:
        return ""
    sides = [("", document.get("phases") or {})]
    if document.get("baseline_phases"):  # the concurrent baseline, read beside this RC in the same run
        sides.append((f" ({_baseline_label(document)})", document["baseline_phases"]))
    rows = "".join(
        f'<tr data-phase="{for_html(phase)}" data-source="{for_html(source)}"'
        + (' data-side="baseline"' if side else "")
        + f"><td>{for_html(phase)}</td>"
        f"<td>{for_html(source + side)}</td>"
        f'<td class="num">{_text(f.get("cpu_seconds_per_1000_requests"), ".3f")}</td>'
        f'<td class="num">{_text(f.get("requests"), ",.0f")}</td>'
        f'<td class="num">{_text(None if f.get("peak_resident_memory_bytes") is None else f["peak_resident_memory_bytes"] / MIB, ".1f")}</td>'
        f'<td class="num">{_text(f.get("cache_hit_ratio"), ".3f")}</td>'
        f'<td class="num">{_text(f.get("limiter_refused"), ",.0f")}</td></tr>'
        for side, phases in sides
        for phase, figures in phases.items()
        for source, f in figures["sources"].items()
    )
    return (
        f'<h2>Cost per request</h2><p id="cost-verdict"><b>{for_html(document.get("verdict"))}</b>: '
        f"{for_html(document.get('reason'))}</p>"
        f"{cost_chart(document)}"
        + table(
            "cost",
            (
                "phase",
                "source",
                "CPU s per 1,000 requests",
                "requests",
                "peak RSS (MiB)",
                "cache hit ratio",
                "limiter refusals",
            ),
            rows,
        )
    )
