"""slo/baseline.json: known shifts are classified as they are, and the policy decides WARN or FAIL."""

from __future__ import annotations

import functools
import random

import pytest
import yaml

from tests.compare.samples import load_frame, lognormal_ar1
from verification_pipeline.compare.document import (
    COMPARED,
    NO_BASELINE,
    SCHEMA,
    Samples,
    comparison_document,
    no_baseline_document,
)
from verification_pipeline.errors import ConfigError
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, load_slo_spec

N = 20_000
INFO = {
    "rc": "v24.1.0-rc1",
    "bundle_uri": "s3://b/p/v24.1.0-rc1/run/evidence/v24.1/",
    "commit": "abc",
    "verified": True,
}


def spec_with(**regression):
    document = yaml.safe_load(DEFAULT_SLOS_PATH.read_text())
    document["regression"].update(regression)
    return load_slo_spec(yaml.safe_dump(document))


@functools.cache
def reads(seed: int, scale: float = 1.0, failed_every: int = 0) -> Samples:
    rng = random.Random(seed)
    latencies = lognormal_ar1(rng, N, 0.3, scale=scale)
    failed = [failed_every > 0 and i % failed_every == 0 for i in range(N)]
    return Samples(read=load_frame(latencies, "read", failed))


def read_row(document: dict) -> dict:
    return next(row for row in document["slos"] if row["slo"] == "read_latency_p95")


def test_no_shift_is_no_change_and_passes() -> None:
    document = comparison_document(
        spec_with(), rc="v24.1.0-rc2", current=reads(1), baseline=reads(2), baseline_info=INFO
    )
    row = read_row(document)
    assert document["schema"] == SCHEMA and document["status"] == COMPARED
    assert row["classification"] == "no_change"
    assert row["shift_ms"]["lower"] < 0 < row["shift_ms"]["upper"]
    assert row["p95_ratio"]["lower"] < 1 < row["p95_ratio"]["upper"]
    assert row["verdict"] == "PASS"
    assert row["p_value"] > 0.05 and row["effect_size"] is not None
    assert len(row["cdf"]["current"]) == 101 and row["cdf"]["baseline"][-1][1] == 1.0


def test_a_5_percent_slowdown_is_no_change_or_slower_with_its_interval_stated() -> None:
    row = read_row(
        comparison_document(
            spec_with(), rc="v24.1.0-rc2", current=reads(3, scale=1.05), baseline=reads(4), baseline_info=INFO
        )
    )
    assert row["classification"] in ("no_change", "slower")
    assert row["p95_ratio"]["lower"] <= 1.05 <= row["p95_ratio"]["upper"]
    assert "ratio" in row["reason"] and "CI [" in row["reason"] and "Mann-Whitney p =" in row["reason"]
    # below the 10 % tolerance the ratio's whole interval is never above it: not a regression
    assert row["verdict"] in ("PASS", "WARN")
    assert row["p95_ratio"]["lower"] <= 1.10


@pytest.mark.parametrize(("on_regression", "verdict"), [("warn", "WARN"), ("fail", "FAIL")])
def test_a_20_percent_slowdown_is_slower_and_the_policy_decides_warn_or_fail(on_regression, verdict) -> None:
    document = comparison_document(
        spec_with(on_regression=on_regression),
        rc="v24.1.0-rc2",
        current=reads(5, scale=1.2),
        baseline=reads(6),
        baseline_info=INFO,
    )
    row = read_row(document)
    assert row["classification"] == "slower"
    assert row["shift_ms"]["lower"] > 0 and row["p_value"] < 0.05 and row["effect_size"] > 0
    assert row["p95_ratio"]["lower"] > 1.10
    assert row["verdict"] == verdict and document["verdict"] == verdict
    assert "a regression beyond +10 % on p95" in row["reason"]
    assert "read_latency_p95" in document["reason"]


def test_a_tolerance_above_the_slowdown_passes_it() -> None:
    row = read_row(
        comparison_document(
            spec_with(max_p95_increase_pct=50),
            rc="v24.1.0-rc2",
            current=reads(5, scale=1.2),
            baseline=reads(6),
            baseline_info=INFO,
        )
    )
    assert row["classification"] == "slower" and row["verdict"] == "PASS"
    assert "within +50 % on p95" in row["reason"]


def test_error_rate_difference_has_its_interval_and_regresses_beyond_the_points_allowed() -> None:
    document = comparison_document(
        spec_with(on_regression="fail"),
        rc="v24.1.0-rc2",
        current=reads(7, failed_every=20),  # 5 %
        baseline=reads(8),
        baseline_info=INFO,
    )
    row = next(r for r in document["slos"] if r["kind"] == "error_rate")
    assert row["current"]["rate_pct"] == pytest.approx(5.0) and row["baseline"]["failures"] == 0
    assert row["rate_diff"]["lower"] > 0.1 and row["rate_diff"]["estimate"] == pytest.approx(5.0)
    assert row["classification"] == "higher" and row["verdict"] == "FAIL"


def test_slos_without_samples_on_a_side_are_not_compared_and_say_so() -> None:
    document = comparison_document(
        spec_with(), rc="v24.1.0-rc2", current=reads(1), baseline=reads(2), baseline_info=INFO
    )
    fanout = next(r for r in document["slos"] if r["slo"] == "fanout_latency_p95")
    assert fanout["classification"] is None and fanout["verdict"] == "WARN"
    assert "not compared: 0 samples in this RC and 0 in the baseline" in fanout["reason"]
    strict = comparison_document(
        spec_with(on_regression="fail"),
        rc="v24.1.0-rc2",
        current=reads(1),
        baseline=reads(2),
        baseline_info=INFO,
    )
    assert next(r for r in strict["slos"] if r["slo"] == "fanout_latency_p95")["verdict"] == "INCONCLUSIVE"


def test_no_baseline_is_said_never_a_silent_pass() -> None:
    document = no_baseline_document(
        "v24.1.0-rc1", 0.95, "no earlier RC of the release line of v24.1.0-rc1 has a bundle that verifies"
    )
    assert document["status"] == NO_BASELINE and document["baseline"] is None
    assert document["verdict"] == "WARN" and "no earlier RC" in document["reason"]


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"on_regression": "block"}, r"\[regression\.on_regression\]", "'warn' or 'fail'"),
        ({"max_p95_increase_pct": -1}, r"\[regression\.max_p95_increase_pct\]", "must be at least 0"),
        ({"max_p95_pct": 5}, r"\[regression\.max_p95_pct\]", "unknown key"),
        ({"min_shift_ms": -1}, r"\[regression\.min_shift_ms\]", "must be at least 0"),
        ({"min_shift_threshold_pct": 101}, r"\[regression\.min_shift_threshold_pct\]", "at most 100"),
        ({"min_shift_ms": "5 ms"}, r"\[regression\.min_shift_ms\]", "number"),
    ],
)
def test_regression_policy_errors_name_the_field(change, where, message) -> None:
    with pytest.raises(ConfigError, match=rf"slos\.yaml.*{where}.*{message}"):
        spec_with(**change)
