"""`slo/metrics.json`: the one entry point the asset and `audit` share."""

from __future__ import annotations

import random

import polars as pl
import pytest

from tests.slo.test_metrics import requests
from verification_pipeline.errors import FormatError
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.slo.document import metrics_document, recompute_bundle_metrics, slo_table_markdown
from verification_pipeline.slo.metrics import BOUNDS_METHOD
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

SPEC = DEFAULT_SLOS_PATH.read_text()


def document(fanout_summary: dict | None, spec: str = SPEC) -> dict:
    rng = random.Random(6)
    read = requests([rng.uniform(5, 200) for _ in range(4000)])
    write = requests([rng.uniform(5, 400) for _ in range(3000)], op="write").with_columns(
        ingest_ms=pl.Series([rng.uniform(1, 30) for _ in range(3000)])
    )
    return metrics_document(
        spec_yaml=spec,
        spec_source="slos.yaml",
        read=read,
        write=write,
        fanout=pl.DataFrame(schema=DELIVERY_SCHEMA),
        fanout_summary_only=fanout_summary,
    )


def fanout_row(doc: dict) -> dict:
    return next(row for row in doc["slos"] if row["name"] == "fanout_latency_p95")


def test_a_summary_only_fanout_figure_is_inconclusive_on_either_side_of_the_threshold() -> None:
    for p95, side in ((40.0, "at or below"), (900.0, "above")):
        doc = document({"p95_ms": p95, "count": 500, "delivery_ratio": None})
        row = fanout_row(doc)
        assert row["verdict"] == "INCONCLUSIVE" and row["value"] == p95
        assert row["ci_low"] is None and row["ci_high"] is None
        assert f"{side} the 250 ms threshold as a point estimate" in row["reason"]
        assert "no 95% bound can be computed" in row["reason"]
        assert doc["verdict"] == "INCONCLUSIVE"


def test_rows_carry_the_diagnostics_and_a_09_spec_says_90_percent() -> None:
    doc = document(None, SPEC.replace("confidence: 0.95", "confidence: 0.9"))
    read = next(row for row in doc["slos"] if row["name"] == "read_latency_p95")
    errors = next(row for row in doc["slos"] if row["name"] == "error_rate")
    assert read["confidence"] == 0.9 and "one-sided 90% bounds" in read["reason"]
    assert read["effective_n"] == 4000 and read["lag1_autocorrelation"] is not None
    assert read["interval_method"] == "order statistics on effective n"
    assert (
        errors["interval_method"] == "Clopper-Pearson on effective n" and errors["dispersion_index"] is None
    )
    assert fanout_row(doc)["reason"] == "no fan-out delivery latencies were measured"


def test_the_asset_table_names_the_configured_level_and_the_dependence() -> None:
    doc = document(None, SPEC.replace("confidence: 0.95", "confidence: 0.9"))
    table = slo_table_markdown(doc)
    assert "| one-sided 90 % bounds | dependence |" in table and "95" not in table.split("\n")[2]
    assert "n_eff 4,000 (order statistics on effective n)" in table
    assert table.startswith(f"**SLOs: {doc['verdict']}**")


def test_a_document_records_its_bounds_method_and_one_without_it_recomputes_with_the_first() -> None:
    """A bundle made before issue 26's second round has no `bounds_method`: `audit` recomputes
    it with method 1 (no episode text, no floors), so its figures and shape come back as signed;
    a method this code does not know is a FormatError naming the field."""
    doc = document(None)
    assert doc["bounds_method"] == BOUNDS_METHOD == 4
    read = next(row for row in doc["slos"] if row["name"] == "read_latency_p95")
    assert "slow episodes" in read["reason"] and "time blocks of" in read["reason"]
    rng = random.Random(6)
    frames = {"read": requests([rng.uniform(5, 200) for _ in range(4000)])}
    old = {key: value for key, value in doc.items() if key != "bounds_method"}
    again = recompute_bundle_metrics(frames, old)
    assert "bounds_method" not in again
    old_read = next(row for row in again["slos"] if row["name"] == "read_latency_p95")
    assert "slow episodes" not in old_read["reason"] and "time blocks" not in old_read["reason"]
    assert recompute_bundle_metrics(frames, doc)["bounds_method"] == 4
    # A bundle of round three (method 3) recomputes with round three's rules.
    assert recompute_bundle_metrics(frames, doc | {"bounds_method": 3})["bounds_method"] == 3
    # A bundle of round two (method 2) recomputes with round two's rules.
    assert recompute_bundle_metrics(frames, doc | {"bounds_method": 2})["bounds_method"] == 2
    with pytest.raises(FormatError, match="bounds_method"):
        recompute_bundle_metrics(frames, doc | {"bounds_method": 9})
