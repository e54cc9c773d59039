"""The materiality floor of the regression policy (issue 24, regression method 2): a detected but
immaterial latency shift is no change, a real one still is; `verify` judges the signed figures by
the same rule, and `audit` recomputes a document made before the floor with the rule it was made by."""

from __future__ import annotations

import functools
import json
import random

import polars as pl
import pytest

from tests.compare.samples import load_frame, lognormal_ar1
from tests.compare.test_audit import _parquet, _with_manifest
from tests.compare.test_document import INFO, spec_with
from tests.evidence.test_gate_figures import _signed
from verification_pipeline.audit.recompute import audit_comparison
from verification_pipeline.compare.document import (
    MATERIALITY_FIELDS,
    REGRESSION_METHOD,
    Samples,
    comparison_document,
)
from verification_pipeline.errors import FormatError
from verification_pipeline.evidence.verify.figures import figure_verdicts
from verification_pipeline.records import BaselineComparisonRecord
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, default_slo_spec

N = 4000


@functools.cache
def reads(seed: int, scale: float = 1.0, plus_ms: float = 0.0) -> pl.DataFrame:
    """Read latencies, lognormal AR(1) (median 20 ms x scale), `plus_ms` added to each."""
    values = [v + plus_ms for v in lognormal_ar1(random.Random(seed), N, 0.3, scale=scale)]
    return load_frame(values, "read")


def _read_row(document: dict) -> dict:
    return next(row for row in document["slos"] if row["slo"] == "read_latency_p95")


# p95 ~1 ms (median 0.4 ms): this RC 0.9 ms slower, detected without doubt, and immaterial
SUB_MS = (reads(31, scale=0.02, plus_ms=0.9), reads(32, scale=0.02))


def test_a_0_9_ms_shift_on_a_1_ms_p95_is_detected_but_not_called_slower() -> None:
    current, baseline = SUB_MS
    document = comparison_document(
        default_slo_spec(),
        rc="rc2",
        current=Samples(read=current),
        baseline=Samples(read=baseline),
        baseline_info=INFO,
    )
    row = _read_row(document)
    assert row["baseline"]["p95_ms"] < 1.2 and row["shift_ms"]["lower"] > 0.5  # detected: +0.9 ms
    assert row["p95_ratio"]["lower"] > 1.10  # the percentage rule alone would call it a regression
    assert row["min_shift_ms"] == 7.0  # read: max(5 ms, 2 % of 350 ms)
    assert row["classification"] == "no_change" and row["verdict"] == "PASS"
    assert "within the 7 ms materiality floor" in row["reason"]
    assert document["regression_method"] == REGRESSION_METHOD == 2
    assert document["regression_policy"]["min_shift_ms"] == 5.0
    # the rule before the floor (method 1) called the same rows a regression
    old = _read_row(
        comparison_document(
            default_slo_spec(),
            rc="rc2",
            current=Samples(read=current),
            baseline=Samples(read=baseline),
            baseline_info=INFO,
            regression_method=1,
        )
    )
    assert old["classification"] == "slower" and old["verdict"] == "WARN"
    assert "min_shift_ms" not in old and "materiality" not in old["reason"]


def test_40_ms_on_reads_is_called_slower_above_the_floor() -> None:
    document = comparison_document(
        default_slo_spec(),
        rc="rc2",
        current=Samples(read=reads(33, plus_ms=40.0)),
        baseline=Samples(read=reads(34)),
        baseline_info=INFO,
    )
    row = _read_row(document)
    assert row["classification"] == "slower" and row["verdict"] == "WARN"
    assert 30 <= row["shift_ms"]["estimate"] <= 50


def test_a_tail_slowdown_above_the_floor_is_material_though_the_median_moved_less() -> None:
    # x1.3: the median moves ~6 ms (below read's 7 ms floor), the p95 ~13 ms (above it)
    row = _read_row(
        comparison_document(
            spec_with(),
            rc="rc2",
            current=Samples(read=reads(35, scale=1.3)),
            baseline=Samples(read=reads(36)),
            baseline_info=INFO,
        )
    )
    assert row["shift_ms"]["estimate"] < 7.0 <= row["p95_diff_ms"]
    assert row["classification"] == "slower"


def test_the_floor_is_the_larger_of_its_two_rules() -> None:
    spec = spec_with(min_shift_ms=1, min_shift_threshold_pct=50)
    current, baseline = SUB_MS
    row = _read_row(
        comparison_document(
            spec, rc="rc2", current=Samples(read=current), baseline=Samples(read=baseline), baseline_info=INFO
        )
    )
    assert row["min_shift_ms"] == 175.0
    no_floor = spec_with(min_shift_ms=0, min_shift_threshold_pct=0)
    row = _read_row(
        comparison_document(
            no_floor,
            rc="rc2",
            current=Samples(read=current),
            baseline=Samples(read=baseline),
            baseline_info=INFO,
        )
    )
    assert row["min_shift_ms"] == 0.0 and row["classification"] == "slower"


def test_verify_judges_the_signed_figures_by_the_floor() -> None:
    current, baseline = SUB_MS
    document = comparison_document(
        spec_with(on_regression="fail"),
        rc="rc2",
        current=Samples(read=current),
        baseline=Samples(read=baseline),
        baseline_info=INFO,
    )
    gate = BaselineComparisonRecord.model_validate(json.loads(json.dumps(document))).gate()
    signed = _signed(gate)
    assert figure_verdicts(signed, "x") == {gate.verdict}
    read = next(c for c in gate.detail["comparisons"] if c["slo"] == "read_latency_p95")
    assert read["min_shift_ms"] == 7.0 and read["classification"] == "no_change"
    # a producer that called it slower (a regression: FAIL) contradicts its own signed floor
    tampered = json.loads(json.dumps({**gate.detail, "name": gate.name, "verdict": "FAIL"}))
    row = next(c for c in tampered["comparisons"] if c["slo"] == "read_latency_p95")
    row["classification"], row["verdict"] = "slower", "FAIL"
    with pytest.raises(Exception, match="classification"):
        figure_verdicts(type(signed).model_validate(tampered), "x")
    # and without a signed floor (a bundle made before it) the same figures are slower
    del row["min_shift_ms"], row["p95_diff_ms"]
    assert figure_verdicts(type(signed).model_validate(tampered), "x") == {gate.verdict.FAIL}


def _bundles(document: dict, current: pl.DataFrame, baseline: pl.DataFrame) -> tuple[dict, dict]:
    metrics = {"spec": {"source": "slos.yaml", "yaml": DEFAULT_SLOS_PATH.read_text()}}
    files = {
        "raw/read.parquet": _parquet(current),
        "slo/metrics.json": json.dumps(metrics).encode(),
        "slo/baseline.json": json.dumps(document).encode(),
    }
    return (
        _with_manifest(files, "v24.1.0-rc2", "c2"),
        _with_manifest({"raw/read.parquet": _parquet(baseline)}, "v24.1.0-rc1", INFO["commit"]),
    )


def test_audit_recomputes_each_document_with_the_rules_it_was_made_by() -> None:
    current, baseline = SUB_MS
    made = {
        method: comparison_document(
            default_slo_spec(),
            rc="v24.1.0-rc2",
            current=Samples(read=current),
            baseline=Samples(read=baseline),
            baseline_info=INFO,
            regression_method=method,
        )
        for method in (1, 2)
    }
    old = made[1]
    # made before the floor: no marker, no floor fields, the old call; recomputed as it was made
    assert "regression_method" not in old
    assert not set(MATERIALITY_FIELDS) & set(old["regression_policy"])
    assert audit_comparison(*_bundles(old, current, baseline)) == ()
    assert audit_comparison(*_bundles(made[2], current, baseline)) == ()
    # the marker is what chooses: strip it from a new document and the audit names what changed
    stripped = {key: value for key, value in made[2].items() if key != "regression_method"}
    fields = {d.field for d in audit_comparison(*_bundles(stripped, current, baseline))}
    assert "slos[0].classification" in fields and "regression_policy.min_shift_ms" in fields
    with pytest.raises(FormatError, match="regression_method"):
        audit_comparison(*_bundles(made[2] | {"regression_method": 9}, current, baseline))
