"""The report's authorization section: per kind of forbidden request, attempts and how each was answered.

Drawn from `policy/authz_under_load.json` alone: a bar per kind tried, split into refused,
admitted (a leak), shed (429) and error (5xx or no answer), and the kinds not tried named with
why, never drawn as passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verification_pipeline.report import charts
from verification_pipeline.report.tables import table
from verification_pipeline.textsafe import for_html, mark_verdict_words

# outcome -> colour; the order they are stacked in
_OUTCOMES = (("refused", "#2ca02c"), ("admitted", "#d62728"), ("shed", "#ff7f0e"), ("error", "#7f7f7f"))


def authz_chart(document: Mapping[str, Any]) -> str:
    """Horizontal stacked bars, one per kind tried: its attempts by answer (an `<svg>`; "" with none)."""
    kinds = [k for k in document.get("kinds") or [] if k.get("tried")]
    if not kinds:
        return ""
    fig = charts._figure(height=1.0 + 0.45 * len(kinds), left_in=1.8)
    ax = fig.add_subplot()
    for i, kind in enumerate(kinds):
        left = 0
        for outcome, colour in _OUTCOMES:
            count = int(kind.get(outcome) or 0)
            if count:
                ax.barh(i, count, left=left, height=0.6, color=colour, label=outcome if i == 0 else None)
                left += count
    ax.set_yticks(range(len(kinds)), [str(k["kind"]) for k in kinds])
    ax.set_xlabel("forbidden requests sent during the load, by how the service answered")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    return charts.svg(charts._styled(fig))


def authz_section(document: Mapping[str, Any] | None) -> str:
    """The section: the gate's verdict and reason, the chart, one table row per kind (tried or not)."""
    if not document:
        return ""
    rows = []
    for kind in document.get("kinds") or []:
        name = for_html(kind.get("kind"))
        if not kind.get("tried"):
            reason = for_html(mark_verdict_words(kind.get("reason") or ""))
            rows.append(
                f'<tr data-kind="{name}"><td>{name}</td><td colspan="5">not tried: {reason}</td></tr>'
            )
            continue
        cells = "".join(
            f'<td class="num">{int(kind.get(key) or 0):,}</td>'
            for key in ("attempts", "refused", "admitted", "shed", "error")
        )
        rows.append(f'<tr data-kind="{name}"><td>{name}</td>{cells}</tr>')
    bound = document.get("leak_rate_upper_bound")
    stated = (
        f" Leak rate below {bound:.3%} at {float(document.get('confidence') or 0):.0%} confidence."
        if isinstance(bound, int | float)
        else ""
    )
    return (
        f'<h2>Authorization under load</h2><p id="authz-verdict"><b>{for_html(document.get("verdict"))}</b>: '
        f"{for_html(mark_verdict_words(document.get('reason') or ''))}.{stated} "
        f"{for_html(document.get('note') or '')}.</p>"
        f"{authz_chart(document)}"
        + table("authz", ("kind", "attempts", "refused", "admitted", "shed (429)", "error"), "".join(rows))
    )
