"""The two sides of a concurrent-baseline load run: this RC's rows and the baseline's.

With a baseline deployment, one k6 process drives both services, each iteration picking one at
random (`scripts/common.js`); every sample of a baseline iteration carries the op tag
`<op>@baseline`. `split_sides` separates the rows and gives the baseline's their plain op back,
so both sides are rows of `SAMPLE_SCHEMA` and every figure is computed the same way on each.
A dropped iteration never ran, so it has no side: it stays with this RC's rows (only the
scenario names it), where it counts against the run as before.
"""

from __future__ import annotations

import polars as pl

BASELINE_SUFFIX = "@baseline"
"""Appended to the op tag of a baseline iteration's samples (`scripts/common.js` spells it too)."""


def split_sides(samples: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(this RC's rows, the baseline's rows), each in time order, ops without the suffix."""
    is_baseline = pl.col("op").str.ends_with(BASELINE_SUFFIX).fill_null(False)
    current = samples.filter(~is_baseline)
    baseline = samples.filter(is_baseline).with_columns(
        pl.col("op").str.strip_suffix(BASELINE_SUFFIX),
        pl.col("scenario").str.strip_suffix(BASELINE_SUFFIX),
    )
    return current, baseline
