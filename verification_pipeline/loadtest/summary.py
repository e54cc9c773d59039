"""Per-op and whole-run figures in the shape of k6's end-of-test summary.

`slo/read.json` and `slo/write.json` are `summarize` of the read and write samples. Trend
figures use k6's own arithmetic (`metrics/sink.go`), so on the same points they equal what
k6 prints: percentiles by linear interpolation between closest ranks on the sorted values
(Hyndman-Fan type 7), `avg` = sum / count.
"""

from __future__ import annotations

import polars as pl

from verification_pipeline.loadtest.ingest import FAILURE_KINDS
from verification_pipeline.quantile import quantile_type7
from verification_pipeline.scalars import datetime_of, float_of

ALL_OPS = "all"
TREND_STATS = (("med", 0.5), ("p(90)", 0.9), ("p(95)", 0.95), ("p(99)", 0.99))


def trend(values: pl.Series) -> dict[str, float | int | None]:
    """k6's Trend figures (`avg`, `min`, `med`, `max`, `p(90)`, `p(95)`, `p(99)`) and `count`.

    Empty input gives None for every figure rather than k6's zeros: no data is not 0 ms.
    """
    ordered = values.drop_nulls().sort()
    count = ordered.len()
    figures: dict[str, float | int | None] = {
        "avg": float_of(ordered.sum()) / count if count else None,
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
    - `http_reqs`: `count` of requests sent (dropped ones excluded) and `rate` per second as k6
      computes it, count over the test run's duration (`run_seconds`, see `run_seconds`).
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
    start = datetime_of(sent["timestamp"].min()) if sent.height else None
    end = datetime_of(sent["timestamp"].max()) if sent.height else None
    seconds = (end - start).total_seconds() if start and end else 0.0
    duration = run_seconds(sent["timestamp"])
    summary = {
        "http_req_duration": trend(rows["latency_ms"]),
        "http_reqs": {"count": sent.height, "rate": sent.height / duration if duration else None},
        "request_failures": {
            "count": failures.height,
            "rate": failures.height / rows.height if rows.height else None,
            **{kind: kinds.get(kind, 0) for kind in FAILURE_KINDS},
        },
        "window": {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "seconds": seconds,
            "run_seconds": duration,
        },
    }
    ingest = rows["ingest_ms"].drop_nulls()
    if ingest.len():
        summary["ingest_duration"] = trend(ingest)
    return summary


def run_seconds(timestamps: pl.Series) -> float | None:
    """The test run's duration as k6 divides by it for a Counter's rate, from the requests' times.

    k6's rate is count / test run duration, and the run lasts about one request interval more
    than first-to-last (each request stands for its share of the time): span * n / (n - 1).
    k6's CSV output has whole-second timestamps, where first-to-last is off by up to a second
    (7 % of a 15 s test); there the rate is the mean count per whole second strictly between
    the first and the last, so the duration is count over that. None below two requests or
    with all requests in one or two seconds of a CSV (no whole second to count).
    """
    times = timestamps.drop_nulls().sort()
    n = times.len()
    if n < 2:
        return None
    if not (times.dt.truncate("1s") == times).all():
        span = (times[-1] - times[0]).total_seconds()
        return span * n / (n - 1) if span > 0 else None
    seconds = times.dt.epoch("s")
    first, last = seconds[0], seconds[-1]
    interior = int((seconds > first).sum() - (seconds == last).sum())
    if last - first < 2:
        return None
    return n / (interior / (last - first - 1))
