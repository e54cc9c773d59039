"""How figures are written for people: one spelling per kind of number.

The SLO reasons, the comparison's reasons, the demo's tables, the alert rules and the dashboard
all write numbers; they write them here, so the same figure reads the same everywhere and a
missing one is said ("n/a"), never printed as 0. On the ground floor: below every writer.
"""

from __future__ import annotations

MISSING = "n/a"


def significant(value: float | None, digits: int = 6, *, missing: str = MISSING) -> str:
    """`digits` significant digits (12.3457 for 12.34567 at 6); `missing` where there is no figure."""
    return missing if value is None else f"{value:.{digits}g}"


def approximate(value: float | None, digits: int = 3, *, missing: str = MISSING) -> str:
    """An estimate as a person reads it: `digits` significant digits below 10**digits, whole
    numbers above (never an exponent there): 10.0165 -> "10", 1.23456 -> "1.23", 3121.7 -> "3122"."""
    if value is None:
        return missing
    return f"{value:.0f}" if abs(value) >= 10 ** (digits - 1) else f"{value:.{digits}g}"


def signed(value: float | None, digits: int = 4, *, missing: str = MISSING) -> str:
    """A difference with its sign (+1.25, -0.3), `digits` significant digits."""
    return missing if value is None else f"{value:+.{digits}g}"


def fixed(value: float | None, places: int = 3, *, missing: str = MISSING) -> str:
    """A table cell: `places` decimals; `missing` where there is no figure."""
    return missing if value is None else f"{value:.{places}f}"


def level(confidence: float) -> str:
    """A confidence level as a percentage: 0.95 -> "95%"."""
    return f"{confidence * 100:g}%"


def bounds(low: float | None, high: float | None, digits: int = 6) -> str:
    """An interval, open where the sample gives no bound on that side: "[-inf, 12.3]"."""
    lower = "-inf" if low is None else significant(low, digits)
    upper = "+inf" if high is None else significant(high, digits)
    return f"[{lower}, {upper}]"


def exact(value: float) -> str:
    """A float as PromQL and people read it: 0.999, not 0.9990000000000001."""
    return f"{value:.10g}"


def exact_percent(ratio: float) -> str:
    """A ratio as a percentage, exactly: 0.001 -> "0.1 %"."""
    return f"{ratio * 100:.10g} %"


# --- a measurement with its unit: the release documents and the report (issue 28) ---------------


def unit_symbol(unit: str) -> str:
    """A unit as people write it: "percent" is "%", every other one as it is."""
    return "%" if unit == "percent" else unit


def measured(value: float, unit: str, other: str = "g") -> str:
    """A measurement as people read it: ms to 0.1, percentages to 0.001; a figure in any other unit
    as the format spec `other` writes it (the release documents `g`, the report `.4g`)."""
    symbol = unit_symbol(unit)
    if symbol == "ms":
        return f"{value:.1f}"
    if symbol == "%":
        return f"{value:.3f}"
    return format(value, other)
