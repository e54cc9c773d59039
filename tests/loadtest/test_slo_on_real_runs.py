"""SLO rows from real k6 runs: the dependence diagnostics are there, and clear verdicts stand."""

from __future__ import annotations

import re

import polars as pl

from verification_pipeline.loadtest.ingest import ingest
from verification_pipeline.slo.metrics import compute_slo_metrics
from verification_pipeline.slo.spec import default_slo_spec


def test_real_k6_rows_carry_diagnostics_and_keep_their_verdicts(mixed_run) -> None:
    samples = ingest(mixed_run.out_path)
    read, write = samples.filter(pl.col("op") == "read"), samples.filter(pl.col("op") == "write")
    rows = {r["name"]: r for r in compute_slo_metrics(default_slo_spec(), read=read, write=write).to_dicts()}
    # The same requests without their order: no dependence left to find, so independent-sample bounds.
    shuffled = {
        r["name"]: r
        for r in compute_slo_metrics(
            default_slo_spec(),
            read=read.drop("timestamp").sample(fraction=1.0, shuffle=True, seed=3),
            write=write.drop("timestamp").sample(fraction=1.0, shuffle=True, seed=4),
        ).to_dicts()
    }

    # The stand-in answers within a few ms and fails ~6 % of requests: the data are clear. The
    # ~100 writes are fewer than the 200 the SLOs ask for, in time order or not.
    expected = {
        "read_latency_p95": "PASS",
        "write_latency_p95": "INCONCLUSIVE",
        "ingest_latency_p95": "INCONCLUSIVE",
        "error_rate": "FAIL",
        "fanout_latency_p95": "INCONCLUSIVE",
    }
    assert {name: row["verdict"] for name, row in rows.items()} == expected
    assert {name: row["verdict"] for name, row in shuffled.items()} == expected
    for name in ("read_latency_p95", "write_latency_p95", "ingest_latency_p95", "error_rate"):
        row = rows[name]
        assert row["lag1_autocorrelation"] is not None and -1 <= row["lag1_autocorrelation"] <= 1
        assert 0 < row["effective_n"] <= row["n"] and row["interval_method"]
        assert "effective n" in row["reason"] and "lag-1 autocorrelation" in row["reason"]
    assert re.search(r"at least \d+ (are needed|before a pass)", rows["write_latency_p95"]["reason"])
    errors = rows["error_rate"]
    assert errors["dispersion_index"] is not None and errors["dispersion_index"] > 0
    # Latency over successful responses; every response's figure beside it.
    assert rows["read_latency_p95"]["n"] == read.filter(pl.col("ok")).height
    assert rows["read_latency_p95"]["value_all_responses"] is not None
