"""Read a `fanout.json` that the seed's Node script (`subscription_fanout.js`) wrote in CI.

That file holds only `{count, p95_ms, p99_ms}`: no raw latencies, no losses. The figures are
kept, marked as summary-only evidence, and every field we cannot know is None rather than a
guessed zero, so nothing downstream mistakes "not measured" for "no losses".
"""

from __future__ import annotations

import math

from verification_pipeline.errors import FormatError, InputError
from verification_pipeline.fanout.metrics import EVIDENCE_SUMMARY_ONLY
from verification_pipeline.jsonio import decode_json, shown


def import_seed_fanout(data: bytes, source: str) -> dict:
    """Validate a seed-shaped `fanout.json` and return it in `fanout_metrics`' shape."""
    summary = decode_json(data, source, expected="the seed's fanout.json {count, p95_ms, p99_ms}")
    if not isinstance(summary, dict):
        raise FormatError(
            f"expected a JSON object like the seed's {{count, p95_ms, p99_ms}}, got {type(summary).__name__}",
            source=source,
        )
    count = summary.get("count")
    if "count" not in summary or isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(
            f"must be a whole number of latencies >= 1, got {shown(count)}",
            source=source,
            field="count",
            hint="the seed's script writes fanout.json only after receiving RUNS events",
        )
    p95 = _latency(summary, "p95_ms", source)
    p99 = _latency(summary, "p99_ms", source)
    if p99 < p95:
        raise InputError(
            f"p99_ms {p99} is below p95_ms {p95}, which no set of latencies gives",
            source=source,
            field="p99_ms",
        )
    return {
        "count": count,
        "p95_ms": p95,
        "p99_ms": p99,
        "p50_ms": None,
        "max_ms": None,
        "delivered": None,
        "late": None,
        "lost": None,
        "duplicates": None,
        "delivery_ratio": None,
        "subscribers": None,
        "events": None,
        "publish_errors": None,
        "loop_lag_p99_ms": None,
        "evidence": EVIDENCE_SUMMARY_ONLY,
    }


def _latency(summary: dict, field: str, source: str) -> float:
    if field not in summary:
        raise InputError(
            "is missing", source=source, field=field, hint="the seed's fanout.json has count, p95_ms, p99_ms"
        )
    value = summary[field]
    milliseconds = _finite_float(value)
    if milliseconds is None or milliseconds < 0:
        raise InputError(
            f"must be a finite, non-negative number of milliseconds, got {shown(value)}",
            source=source,
            field=field,
        )
    return milliseconds


def _finite_float(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else (a string, a boolean, NaN, 1e400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None
