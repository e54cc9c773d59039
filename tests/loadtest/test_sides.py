"""The two sides of a concurrent-baseline run: rows split by the op tag the k6 script sets."""

from __future__ import annotations

import datetime as dt

import polars as pl

from verification_pipeline.loadtest.ingest import DROPPED, SAMPLE_SCHEMA
from verification_pipeline.loadtest.runner import script_path
from verification_pipeline.loadtest.sides import BASELINE_SUFFIX, split_sides


def test_baseline_rows_are_split_off_with_their_plain_op_and_a_dropped_iteration_stays_with_the_rc() -> None:
    start = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    ops = ["read", f"read{BASELINE_SUFFIX}", "read", f"read{BASELINE_SUFFIX}", "read"]
    frame = pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(milliseconds=i) for i in range(5)],
            "op": ops,
            "latency_ms": [10.0, 50.0, 11.0, 52.0, None],
            "status": [200, 200, 200, 200, None],
            "ok": [True, True, True, True, False],
            "failure": [None, None, None, None, DROPPED],
            "scenario": ["read"] * 5,
            "segment": ["0:1"] * 5,
            "ingest_ms": [None] * 5,
        },
        schema=SAMPLE_SCHEMA,
    )
    current, baseline = split_sides(frame)
    assert current["latency_ms"].to_list() == [10.0, 11.0, None]
    assert current["failure"].to_list()[-1] == DROPPED
    assert baseline["latency_ms"].to_list() == [50.0, 52.0]
    assert baseline["op"].to_list() == ["read", "read"] and baseline.schema == current.schema


def test_the_k6_script_spells_the_same_suffix() -> None:
    assert f"BASELINE_SUFFIX = '{BASELINE_SUFFIX}'" in (script_path("read").parent / "common.js").read_text()
