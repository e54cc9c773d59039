"""The report's overload panel: tenant A's offered, admitted and refused requests per second,
with its declared limit, and the neighbour's beside them; then the phase's gates.

Drawn from the signed `slo/overload.json` (its `series` and `gates`), so the page shows what
the gates judged, second by second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from matplotlib.figure import Figure

from verification_pipeline.report.charts import _figure, _styled, svg
from verification_pipeline.report.tables import table


def overload_chart(document: Mapping[str, Any]) -> Figure:
    """Requests per second (by send time) from the overload's start, with the limit line."""
    series = document.get("series") or []
    figures = document.get("figures") or {}
    inputs = document.get("inputs") or {}
    seconds = [point["second"] for point in series]
    fig = _figure(height=3.4)
    ax = fig.subplots()
    for key, label, color in (
        ("offered", "tenant A offered", "#455a64"),
        ("admitted", "tenant A admitted", "#2e7d32"),
        ("refused", "tenant A refused (shed)", "#ef6c00"),
        ("failed", "tenant A failed / timed out / not sent", "#c62828"),
        ("neighbour", "tenant B (neighbour)", "#1565c0"),
    ):
        ax.plot(seconds, [point.get(key, 0) for point in series], color=color, marker="o", ms=2, label=label)
    limit = figures.get("limit_rps")
    if limit is not None:
        ax.axhline(limit, color="#c62828", ls="--", lw=1.2, label=f"limit {limit:g}/s per tenant")
    overload_s = inputs.get("overload_s")
    if overload_s is not None:
        ax.axvline(overload_s, color="#616161", ls=":", lw=1.2, label="overload ends")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds since tenant A's overload started")
    ax.set_ylabel("requests per second")
    ax.set_title("Overload: one tenant past its rate limit", loc="left", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    return _styled(fig)


def overload_section(document: Mapping[str, Any] | None, escape: Callable[[object], str]) -> str:
    """The panel's HTML; `escape` is the report's text escaping."""
    if not document:
        return ""
    rows = "".join(
        f'<tr data-gate="{escape(g.get("name"))}"><td>{escape(g.get("name"))}</td>'
        f"<td>{escape(g.get('verdict'))}</td><td>{escape(g.get('reason'))}</td></tr>"
        for g in document.get("gates") or []
    )
    gates = table("overload-gates", ("gate", "verdict", "reason"), rows)
    if not document.get("measured") or not document.get("series"):
        return f'<h2>Overload: the per-tenant limit</h2><p class="panel">{escape(document.get("reason"))}</p>{gates}'
    figures = document.get("figures") or {}
    recovery = figures.get("recovery_s")
    caption = (
        f"offered {figures.get('offered_rps', 0):.1f}/s, admitted {figures.get('admitted_rps', 0):.1f}/s, "
        f"refused {figures.get('refused_rps', 0):.1f}/s against a limit of {figures.get('limit_rps', 0):g}/s; "
        f"recovery {'not seen' if recovery is None else f'{recovery:g} s'}."
    )
    chart = f'<figure data-chart="overload">{svg(overload_chart(document))}<figcaption>{escape(caption)}</figcaption></figure>'
    return f"<h2>Overload: the per-tenant limit</h2>{chart}{gates}"
