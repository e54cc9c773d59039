"""Fan-out figures from the per-delivery rows: the seed's `fanout.json` shape plus our fields.

The quantiles use exactly the seed's `quantile` function (Hyndman-Fan type 7, linear
interpolation between closest ranks, the same arithmetic in the same order) so that our
`p95_ms` and the seed script's agree on the same latencies to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from verification_pipeline.errors import NoDataError
from verification_pipeline.fanout.accounting import DELIVERED, DUPLICATE, LATE, LOST, Publish, Receipt

# Where the figures came from: raw per-delivery rows, or only a summary file from CI.
EVIDENCE_RAW = "raw"
EVIDENCE_SUMMARY_ONLY = "summary-only"


def seed_quantile(values: Sequence[float], q: float) -> float | None:
    """The seed script's `quantile(arr, q)`; None where JS would give `undefined` (no values)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    base = math.floor(position)
    rest = position - base
    if base + 1 < len(ordered):
        return ordered[base] + rest * (ordered[base + 1] - ordered[base])
    return ordered[base]


def fanout_metrics(
    deliveries: pl.DataFrame,
    *,
    loop_lag: pl.DataFrame | None = None,
    publish_errors: int = 0,
) -> dict:
    """Figures for `slo/fanout.json`: `{count, p95_ms, p99_ms}` as the seed writes, then ours.

    `count` and the latency quantiles cover the first arrival of each event at each subscriber
    within the grace period (delivered and late); `delivery_ratio` is that count over all
    (subscriber, event) pairs. `loop_lag_p99_ms` is the worst p99 scheduling delay among the
    probe's event loops (`loop_lag` columns `process`, `lag_ms`): a high value says the probe,
    not the target, may have added latency.
    """
    if deliveries.is_empty():
        raise NoDataError("the fan-out table has no (subscriber, event) rows", field="deliveries")
    counts = dict(deliveries.group_by("status").len().iter_rows())
    arrived = deliveries.filter(pl.col("status").is_in([DELIVERED, LATE]))["latency_ms"].to_list()
    pairs = counts.get(DELIVERED, 0) + counts.get(LATE, 0) + counts.get(LOST, 0)
    return {
        "count": len(arrived),
        "p95_ms": seed_quantile(arrived, 0.95),
        "p99_ms": seed_quantile(arrived, 0.99),
        "p50_ms": seed_quantile(arrived, 0.50),
        "max_ms": max(arrived) if arrived else None,
        "delivered": counts.get(DELIVERED, 0),
        "late": counts.get(LATE, 0),
        "lost": counts.get(LOST, 0),
        "duplicates": counts.get(DUPLICATE, 0),
        "delivery_ratio": len(arrived) / pairs,
        "subscribers": deliveries["subscriber"].n_unique(),
        "events": deliveries["event_id"].n_unique(),
        "publish_errors": publish_errors,
        "loop_lag_p99_ms": worst_loop_lag_p99(loop_lag),
        "evidence": EVIDENCE_RAW,
    }


def seed_method_figures(
    publishes: Sequence[Publish], echoes: Sequence[Publish], receipts: Sequence[Receipt], runs: int
) -> dict:
    """The figures the seed's script would print, measured the seed's way, for comparison.

    The script times every event that carries a `_t0`: its publishes (from the signal's `ts`,
    whole ms) and the echoes of the `t0` messages it emits after each one (from `Date.now()` at
    emit), as `Date.now()` at arrival minus `_t0`, in arrival order, and stops at `runs`
    latencies. Here: per subscriber, arrivals of our publishes and echoes in arrival order,
    whole ms at both ends, the first `runs`; the subscribers pooled; the seed's quantile.
    """
    origin = {publish.event_id: publish.published_at_ms for publish in publishes}
    kind = dict.fromkeys(origin, "publish")
    for echo in echoes:
        origin[echo.event_id], kind[echo.event_id] = echo.published_at_ms, "echo"
    per_subscriber: dict[int, list[tuple[float, str, float]]] = {}
    for receipt in receipts:
        if receipt.event_id in origin:
            latency = math.floor(receipt.received_at_ms) - math.floor(origin[receipt.event_id])
            per_subscriber.setdefault(receipt.subscriber, []).append(
                (receipt.received_at_ms, kind[receipt.event_id], latency)
            )
    counted = [
        (what, latency)
        for arrivals in per_subscriber.values()
        for _, what, latency in sorted(arrivals)[:runs]
    ]
    latencies = [latency for _, latency in counted]
    return {
        "count": len(latencies),
        "p95_ms": seed_quantile(latencies, 0.95),
        "p99_ms": seed_quantile(latencies, 0.99),
        "publishes": sum(1 for what, _ in counted if what == "publish"),
        "echoes": sum(1 for what, _ in counted if what == "echo"),
    }


def loop_lag_p99_by_process(loop_lag: pl.DataFrame | None) -> dict[str, float]:
    """Each of the probe's loops (`publisher`, `subscribers-0`, ...) with its p99 lag, in name order."""
    if loop_lag is None or loop_lag.is_empty():
        return {}
    per_process = loop_lag.group_by("process").agg(pl.col("lag_ms")).sort("process")
    p99s = {
        process: seed_quantile(lags, 0.99)
        for process, lags in zip(per_process["process"], per_process["lag_ms"].to_list(), strict=True)
    }
    return {process: p99 for process, p99 in p99s.items() if p99 is not None}


def worst_loop_lag_p99(loop_lag: pl.DataFrame | None) -> float | None:
    """The highest per-process p99 event-loop lag; one saturated loop is enough to distort."""
    return max(loop_lag_p99_by_process(loop_lag).values(), default=None)


def gate_breaches(metrics: dict, *, max_p95_ms: float = 250.0, min_delivery_ratio: float = 1.0) -> list[str]:
    """Sentences naming each breached fan-out gate; empty when both hold.

    A delivery ratio the evidence does not carry (summary-only import) is not judged here:
    the seed's summary cannot show losses, and the caller reports that separately.
    """
    breaches = []
    p95 = metrics.get("p95_ms")
    if p95 is None:
        breaches.append("no event reached any subscriber, so fan-out p95 cannot be measured")
    elif p95 > max_p95_ms:
        breaches.append(f"fan-out p95 {p95:.1f} ms exceeds {max_p95_ms:g} ms")
    ratio = metrics.get("delivery_ratio")
    if ratio is not None and ratio < min_delivery_ratio:
        breaches.append(
            f"delivery ratio {ratio:.4%} is below {min_delivery_ratio:.2%} "
            f"({metrics.get('lost')} of {metrics.get('subscribers')} x {metrics.get('events')} deliveries lost)"
        )
    return breaches
