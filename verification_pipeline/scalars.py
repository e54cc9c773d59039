"""Typed views of polars scalars.

polars types `Series.min()`, `.max()`, `.mean()`, `.item()` as the union of every dtype's Python
value; these narrow it once, failing loudly if a column holds something else than expected.
"""

from __future__ import annotations

from datetime import datetime


def float_of(value: object) -> float:
    """A numeric aggregate as a float."""
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def datetime_of(value: object) -> datetime:
    """A Datetime column's aggregate as a datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value
