"""k6's percentile, below every package that computes one (load test summaries, SLO figures,
baseline comparisons, charts), so none of them imports another for it.

Linear interpolation between closest ranks (Hyndman-Fan type 7), written exactly as k6's
`TrendSink.P` so that our figure and k6's agree to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl


def quantile_type7(ordered: Sequence[float] | pl.Series, q: float) -> float:
    """k6's percentile of ascending `ordered` values (at least one): j + (k - j) * f."""
    count = len(ordered)
    if count == 1:
        return ordered[0]
    position = q * (count - 1.0)
    below = ordered[math.floor(position)]
    above = ordered[math.ceil(position)]
    return below + (above - below) * (position - math.floor(position))
