"""Our figures from k6's raw points equal k6's own end-of-test summary, on real k6 runs."""

from __future__ import annotations

import gzip
import json
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.loadtest.conftest import k6_summary
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA, ingest, merge_segments
from verification_pipeline.loadtest.summary import run_seconds, summarize

TREND_KEYS = ("avg", "min", "med", "max", "p(90)", "p(95)")
TOLERANCE_MS = 1e-6


def assert_trend_equal(ours: dict, k6: dict, keys=TREND_KEYS) -> None:
    for key in keys:
        assert ours[key] == pytest.approx(k6[key], abs=TOLERANCE_MS, rel=0), key


def reference_points(path: Path, metric: str) -> list[dict]:
    """Independent reading: every line through json.loads."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as lines:
        records = [json.loads(line) for line in lines]
    return [r["data"] for r in records if r["type"] == "Point" and r["metric"] == metric]


def test_closed_model_with_failures_matches_k6(closed_read_run) -> None:
    k6 = k6_summary(closed_read_run)
    samples = ingest(closed_read_run.out_path)
    summary = summarize(samples)

    assert samples.schema == pl.Schema(SAMPLE_SCHEMA)
    assert set(summary) == {"all", "read"}
    assert_trend_equal(summary["read"]["http_req_duration"], k6["http_req_duration"])
    assert summary["read"]["http_req_duration"]["count"] == k6["http_reqs"]["count"]
    failures = summary["read"]["request_failures"]
    assert failures["http"] + failures["timeout"] == k6["http_req_failed"]["passes"]
    assert failures["graphql"] == k6["graphql_errors"]["passes"]
    assert failures["http"] > 0 and failures["graphql"] > 0, "the stand-in must have failed some requests"
    assert failures["rate"] == pytest.approx(
        (k6["http_req_failed"]["passes"] + k6["graphql_errors"]["passes"]) / k6["http_reqs"]["count"]
    )


def test_open_model_with_dropped_iterations_matches_k6(open_write_run) -> None:
    k6 = k6_summary(open_write_run)
    samples = ingest(open_write_run.out_path)
    write = summarize(samples)["write"]

    assert_trend_equal(write["http_req_duration"], k6["http_req_duration"])
    assert_trend_equal(write["ingest_duration"], k6["ingest_duration"])
    assert write["http_reqs"]["count"] == k6["http_reqs"]["count"]
    failures = write["request_failures"]
    assert failures["dropped"] == k6["dropped_iterations"]["count"] > 0
    # Without GraphQL errors, the failed share of requests sent is k6's http_req_failed.
    assert failures["graphql"] == k6["graphql_errors"]["passes"] == 0
    sent = samples.filter(pl.col("failure").is_null() | (pl.col("failure") != "dropped"))
    assert (~sent["ok"]).mean() == pytest.approx(k6["http_req_failed"]["value"], abs=1e-12)
    # Dropped iterations count as failures of the requests the load model owed.
    assert failures["rate"] == pytest.approx(
        (k6["http_req_failed"]["passes"] + k6["dropped_iterations"]["count"])
        / (k6["http_reqs"]["count"] + k6["dropped_iterations"]["count"])
    )
    dropped = samples.filter(pl.col("failure") == "dropped")
    assert dropped["latency_ms"].is_null().all() and (dropped["status"] == 0).all()
    assert (dropped["op"] == "write").all()


def test_no_failures_json_and_csv_match_k6_including_p99(clean_read_run: Path) -> None:
    k6 = k6_summary(clean_read_run / "clean.summary.json")
    from_json = ingest(clean_read_run / "clean.json")
    from_csv = ingest(clean_read_run / "clean.csv")

    for samples in (from_json, from_csv):
        read = summarize(samples)["read"]
        assert_trend_equal(read["http_req_duration"], k6["http_req_duration"], (*TREND_KEYS, "p(99)"))
        assert read["request_failures"]["rate"] == k6["http_req_failed"]["value"] == 0
    # The CSV carries the same requests; its timestamps have whole seconds (k6's default).
    columns = ["op", "latency_ms", "status", "ok", "failure", "scenario"]
    assert from_csv.select(columns).sort("latency_ms").equals(from_json.select(columns).sort("latency_ms"))
    assert (from_csv["timestamp"].dt.truncate("1s") == from_csv["timestamp"]).all()


def test_request_rate_is_k6s_count_over_the_run_duration_from_json_and_csv(
    clean_read_run_10s: Path, closed_read_run, open_write_run
) -> None:
    """k6's http_reqs rate is count / test run duration, which the requests' times only
    approximate (k6's run also holds VU start-up and shutdown): within 1 % from JSON; from CSV,
    whose times are whole seconds, within 3 % (the rate varies from second to second on a shared
    machine: a 10 s run for that), where first-to-last alone is off by up to 1 s (10 % of 10 s)."""
    k6 = k6_summary(clean_read_run_10s / "clean10.summary.json")["http_reqs"]
    for name, tolerance in (("clean10.json", 0.01), ("clean10.csv", 0.03)):
        ours = summarize(ingest(clean_read_run_10s / name))["read"]["http_reqs"]
        assert ours["count"] == k6["count"]
        assert ours["rate"] == pytest.approx(k6["rate"], rel=tolerance), name
    for run in (closed_read_run, open_write_run):
        ours = summarize(ingest(run.out_path))["all"]["http_reqs"]
        assert ours["rate"] == pytest.approx(k6_summary(run)["http_reqs"]["rate"], rel=0.01)


def test_whole_second_times_give_the_rate_of_the_whole_seconds_between() -> None:
    """3.4 s at 100 requests per second, written with whole-second times as k6's CSV does."""
    start = datetime(2025, 11, 27, 12, 0, 0, 600_000, tzinfo=UTC)
    times = [start + timedelta(seconds=i / 100) for i in range(340)]
    whole = pl.Series([t.replace(microsecond=0) for t in times])
    assert 340 / run_seconds(whole) == pytest.approx(100.0)
    assert run_seconds(pl.Series(times)) == pytest.approx(3.39 * 340 / 339)
    # First-to-last of the whole seconds is 3 s: 113 requests per second, 13 % off.
    assert (whole[-1] - whole[0]).total_seconds() == 3.0


def test_every_op_and_whole_run_match_k6(mixed_run) -> None:
    k6 = k6_summary(mixed_run)
    summary = summarize(ingest(mixed_run.out_path))

    assert set(summary) == {"all", "read", "write"}
    assert_trend_equal(summary["all"]["http_req_duration"], k6["http_req_duration"])
    for op in ("read", "write"):
        assert_trend_equal(summary[op]["http_req_duration"], k6[f"http_req_duration{{op:{op}}}"])
        failures = summary[op]["request_failures"]
        sent = summary[op]["http_reqs"]["count"]
        assert (failures["http"] + failures["timeout"]) / sent == pytest.approx(
            k6[f"http_req_failed{{op:{op}}}"]["value"], abs=1e-12
        )
    assert summary["all"]["request_failures"]["graphql"] == k6["graphql_errors"]["passes"]
    assert (
        summary["write"]["ingest_duration"]["count"]
        == k6["http_reqs"]["count"] - summary["read"]["http_reqs"]["count"]
    )


def test_segments_are_merged_from_raw_points(segment_runs) -> None:
    per_segment = [ingest(run.out_path, segment=run.segment.segment) for run in segment_runs]
    merged = merge_segments(per_segment)
    summaries = [k6_summary(run) for run in segment_runs]

    # Each process on its own matches its own k6 summary (one of them read from .gz).
    assert segment_runs[1].out_path.suffix == ".gz"
    for samples, k6 in zip(per_segment, summaries, strict=True):
        assert_trend_equal(summarize(samples)["read"]["http_req_duration"], k6["http_req_duration"])
    assert sorted(merged["segment"].unique()) == ["0:1/2", "1/2:1"]

    # Merged: every request of both processes, percentiles from the pooled points.
    counts = [k6["http_reqs"]["count"] for k6 in summaries]
    latencies = [
        d["value"] for run in segment_runs for d in reference_points(run.out_path, "http_req_duration")
    ]
    figures = summarize(merged)["read"]["http_req_duration"]
    assert figures["count"] == sum(counts) == len(latencies)
    pooled = statistics.quantiles(latencies, n=20, method="inclusive")  # type 7, independently
    assert figures["p(95)"] == pytest.approx(pooled[18], abs=TOLERANCE_MS)
    assert figures["med"] == pytest.approx(statistics.median(latencies), abs=TOLERANCE_MS)
    assert figures["min"] == min(k6["http_req_duration"]["min"] for k6 in summaries)
    assert figures["max"] == max(k6["http_req_duration"]["max"] for k6 in summaries)
    weighted_avg = sum(
        k6["http_req_duration"]["avg"] * n for k6, n in zip(summaries, counts, strict=True)
    ) / sum(counts)
    assert figures["avg"] == pytest.approx(weighted_avg, abs=TOLERANCE_MS)


def test_rows_equal_an_independent_json_reading(closed_read_run) -> None:
    samples = ingest(closed_read_run.out_path)
    points = reference_points(closed_read_run.out_path, "http_req_duration")
    errors = {
        d["metadata"]["request_id"]: d["value"]
        for d in reference_points(closed_read_run.out_path, "graphql_errors")
    }

    assert sorted(samples["latency_ms"].to_list()) == sorted(d["value"] for d in points)
    assert sorted(samples["status"].to_list()) == sorted(int(d["tags"]["status"]) for d in points)
    graphql_failed = sum(
        1 for d in points if errors[d["metadata"]["request_id"]] and d["tags"]["status"] == "200"
    )
    assert samples.filter(pl.col("failure") == "graphql").height == graphql_failed
    assert samples["timestamp"].is_sorted()
