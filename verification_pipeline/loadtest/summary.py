"""Per-op and whole-run figures in the shape of k6's end-of-test summary.

`slo/read.json` and `slo/write.json` are `summarize` of the read and write samples. Trend
figures use k6's own arithmetic (`metrics/sink.go`), so on the same points they equal what
k6 prints: percentiles by linear interpolation between closest ranks on the sorted values
(Hyndman-Fan type 7), `avg` = sum / count.
"""

from __future__ import annotations

import polars as pl

from verification_pipeline.loadtest.ingest import FAILURE_KINDS
from verification_pipeline.slo.stats import quantile_type7

ALL_OPS = "all"
TREND_STATS = (("med", 0.5), ("p(90)", 0.9), ("p(95)", 0.95), ("p(99)", 0.99))


def trend(values: pl.Series) -> dict[str, float | int | None]:
    """k6's Trend figures (`avg`, `min`, `med`, `max`, `p(90)`, `p(95)`, `p(99)`) and `count`.

    Empty input gives None for every figure rather than k6's zeros: no data is not 0 ms.
    """
    ordered = values.drop_nulls().sort()
    count = ordered.len()
    figures: dict[str, float | int | None] = {
        "avg": ordered.sum() / count if count else None,
        "min": ordered[0] if count else None,
        "max": ordered[-1] if count else None,
    }
    for name, q in TREND_STATS:
        figures[name] = quantile_type7(ordered, q) if count else None
    figures["count"] = count
    return figures


def summarize(samples: pl.DataFrame) -> dict[str, dict]:
    """`{"all": ..., "<op>": ...}`: for each, k6-shaped metrics of the requests of that scope.

    - `http_req_duration`: Trend of latencies of requests that got an answer or timed out;
      dropped iterations have no latency.
    - `http_reqs`: `count` of requests sent (dropped ones excluded) and `rate` per second over
      the span from first to last request.
    - `request_failures`: failed requests over all requests owed (dropped included):
      `count`, `rate` (a fraction, like k6's Rate), and the count per failure kind.
    - `ingest_duration`: Trend of `Server-Timing: ingest` values, when the target sent them.
    """
    scopes = {ALL_OPS: samples}
    for op in sorted(samples["op"].drop_nulls().unique().to_list()):
        scopes[op] = samples.filter(pl.col("op") == op)
    return {scope: _scope_summary(rows) for scope, rows in scopes.items()}


def _scope_summary(rows: pl.DataFrame) -> dict:
    sent = rows.filter(pl.col("failure").is_null() | (pl.col("failure") != "dropped"))
    failures = rows.filter(~pl.col("ok"))
    kinds = dict(failures.group_by("failure").len().iter_rows())
    start, end = sent["timestamp"].min(), sent["timestamp"].max()
    seconds = (end - start).total_seconds() if sent.height else 0.0
    summary = {
        "http_req_duration": trend(rows["latency_ms"]),
        "http_reqs": {"count": sent.height, "rate": sent.height / seconds if seconds > 0 else None},
        "request_failures": {
            "count": failures.height,
            "rate": failures.height / rows.height if rows.height else None,
            **{kind: kinds.get(kind, 0) for kind in FAILURE_KINDS},
        },
        "window": {
            "start": start.isoformat() if sent.height else None,
            "end": end.isoformat() if sent.height else None,
            "seconds": seconds,
        },
    }
    ingest = rows["ingest_ms"].drop_nulls()
    if ingest.len():
        summary["ingest_duration"] = trend(ingest)
    return summary
