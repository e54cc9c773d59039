"""How much of each SLO's budget the RC used, and figures rounded for people.

Every SLO reads "value <= threshold", so value / threshold is the share of the budget used:
80 % is close, above 100 % is a breach. The tightest SLO is the one with the largest share;
an SLO that measured nothing has no share and sorts last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verification_pipeline.formatting import measured, unit_symbol
from verification_pipeline.verdict import Verdict


@dataclass(frozen=True)
class BudgetRow:
    """One SLO as a person reads it."""

    name: str
    verdict: Verdict
    value: float | None
    threshold: float
    unit: str
    ci_low: float | None
    ci_high: float | None
    confidence: float | None
    n: int

    @property
    def share(self) -> float | None:
        """value / threshold (1.0 = the whole budget); None when nothing was measured."""
        if self.value is None or self.threshold <= 0:
            return None
        return self.value / self.threshold

    def value_text(self) -> str:
        return figure(self.value, self.unit)

    def interval_text(self) -> str:
        return interval(self.ci_low, self.ci_high, self.unit)

    def share_text(self) -> str:
        return "n/a" if self.share is None else f"{self.share * 100:.0f} %"


def budget_rows(metrics: Mapping[str, Any]) -> list[BudgetRow]:
    """The SLO rows of an `slo/metrics.json` document, tightest first."""
    rows = [
        BudgetRow(
            name=r["name"],
            verdict=Verdict(r["verdict"]),
            value=r.get("value"),
            threshold=float(r["threshold"]),
            unit=r.get("unit") or "",
            ci_low=r.get("ci_low"),
            ci_high=r.get("ci_high"),
            confidence=r.get("confidence"),
            n=int(r.get("n") or 0),
        )
        for r in metrics.get("slos") or []
    ]
    return sorted(rows, key=lambda row: (row.share is None, -(row.share or 0.0), row.name))


def tightest(metrics: Mapping[str, Any]) -> BudgetRow | None:
    """The SLO closest to (or furthest past) its threshold; None when none was measured."""
    rows = [row for row in budget_rows(metrics) if row.share is not None]
    return rows[0] if rows else None


def headline(verdict: Verdict | str, metrics: Mapping[str, Any]) -> str:
    """One line a person reads in seconds: the verdict and the tightest SLO."""
    row = tightest(metrics)
    tight = (
        f"tightest: {row.name} {row.value_text()} of {figure(row.threshold, row.unit)} ({row.share_text()} of budget)"
        if row
        else "no SLO was measured"
    )
    return f"{Verdict(verdict)}: {tight}"


def figure(value: float | None, unit: str = "", *, with_unit: bool = True) -> str:
    """A figure rounded for display: ms to 0.1, percentages to 3 decimals, other numbers to 4 digits."""
    if value is None:
        return "n/a"
    text = measured(value, unit, ".4g")
    return f"{text} {unit_symbol(unit)}".rstrip() if with_unit and unit else text


def interval(low: float | None, high: float | None, unit: str) -> str:
    """A confidence interval for display; a missing bound is one-sided (too few samples), not zero."""
    if low is None and high is None:
        return "n/a"
    low_text = "-inf" if low is None else figure(low, unit, with_unit=False)
    high_text = "+inf" if high is None else figure(high, unit, with_unit=False)
    return f"[{low_text}, {high_text}] {unit_symbol(unit)}"
