"""The figures the charts draw: 10 s windows of the raw samples, and per-subscriber outcomes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.report.samples import START
from verification_pipeline.loadtest.ingest import FAILURE_KINDS
from verification_pipeline.quantile import quantile_type7
from verification_pipeline.report.charts import subscriber_outcomes, windows


def test_each_window_has_the_type7_p95_of_its_successful_requests(sample):
    samples = pl.concat([sample["read"], sample["write"]])
    per_window = windows(samples)
    start = samples["timestamp"].min()
    for op, window_s, p95 in per_window.select("op", "window_s", "p95_ms").iter_rows():
        begin = start + dt.timedelta(seconds=window_s)
        latencies = samples.filter(
            (pl.col("op") == op)
            & pl.col("ok")
            & (pl.col("timestamp") >= begin)
            & (pl.col("timestamp") < begin + dt.timedelta(seconds=10))
        )["latency_ms"].sort()
        assert p95 == pytest.approx(quantile_type7(latencies, 0.95), abs=1e-9)


def test_failures_by_kind_add_up_to_every_failed_request(sample):
    samples = pl.concat([sample["read"], sample["write"]])
    per_window = windows(samples)
    assert sum(int(per_window[kind].sum()) for kind in FAILURE_KINDS) == samples.filter(~pl.col("ok")).height


def test_the_rate_of_a_window_cut_short_by_the_end_of_the_test_is_over_the_time_it_covers():
    # 10 requests a second for 15 s: the second window covers 5 s, not 10
    frame = pl.DataFrame(
        {
            "timestamp": [START + dt.timedelta(seconds=i / 10) for i in range(151)],
            "op": "read",
            "latency_ms": 5.0,
            "ok": True,
            "failure": None,
        },
        schema_overrides={"failure": pl.String, "timestamp": pl.Datetime("us", "UTC")},
    )
    rates = windows(frame)["requests_per_s"].to_list()
    assert rates == pytest.approx([10.0, 10.2])  # 51 requests in the last 5 s (both ends counted)


def test_late_and_lost_are_counted_per_subscriber(sample):
    outcomes = subscriber_outcomes(sample["fanout"])
    counts = sample["fanout"].group_by("status").len()
    totals = dict(counts.iter_rows())
    assert int(outcomes["late"].sum()) == totals.get("late", 0)
    assert int(outcomes["lost"].sum()) == totals.get("lost", 0)
    assert outcomes["subscriber"].to_list() == sorted(sample["fanout"]["subscriber"].unique().to_list())
