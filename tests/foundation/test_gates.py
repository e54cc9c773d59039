"""The gates of an RC and its verdict, computed in one place for every reader."""

import pytest

from verification_pipeline.gates import (
    GateOutcome,
    baseline_gate,
    delivery_ratio_gate,
    findings,
    rc_verdict,
    slo_gates,
)
from verification_pipeline.slo_row import SLO_DETAIL_FIELDS, SLO_METRICS_SCHEMA, SloRow
from verification_pipeline.verdict import Verdict

ROW = SloRow(
    name="read_p95",
    metric="quantile",
    source="read",
    verdict=Verdict.PASS,
    n=500,
    value=20.0,
    threshold=350.0,
    unit="ms",
    confidence=0.95,
    reason="ok",
)


@pytest.mark.parametrize(
    ("ratio", "minimum", "expected"),
    [
        (0.995, 0.99, Verdict.PASS),
        (0.99, 0.99, Verdict.PASS),
        (0.995, 1.0, Verdict.FAIL),
        (None, 0.99, Verdict.INCONCLUSIVE),
    ],
)
def test_the_delivery_ratio_is_judged_by_the_configured_minimum(ratio, minimum, expected):
    gate = delivery_ratio_gate({"delivery_ratio": ratio, "lost": 1}, minimum)
    assert gate.verdict is expected
    assert gate.detail["min_delivery_ratio"] == minimum and gate.check_name == "fanout_delivery_ratio"


def test_slo_rows_become_gates_carrying_their_figures_and_then_the_delivery_ratio():
    gates = slo_gates([ROW], {"delivery_ratio": 1.0}, 1.0)
    assert [g.name for g in gates] == ["slo:read_p95", "slo:fanout_delivery_ratio"]
    assert (
        gates[0].verdict is Verdict.PASS
        and gates[0].detail["value"] == 20.0
        and "name" not in gates[0].detail
    )
    # the gate carries the row's detail fields that have a value, and nothing else
    assert set(gates[0].detail) == {"n", "value", "threshold", "unit", "confidence", "reason"}


def test_the_slo_table_and_the_gate_detail_are_derived_from_the_one_row_type():
    assert list(SLO_METRICS_SCHEMA) == list(SloRow.model_fields)
    assert str(SLO_METRICS_SCHEMA["n"]) == "Int64" and str(SLO_METRICS_SCHEMA["ci_low"]) == "Float64"
    assert str(SLO_METRICS_SCHEMA["verdict"]) == "String"
    assert set(SLO_DETAIL_FIELDS) < set(SloRow.model_fields)
    assert {"name", "verdict", "metric", "source"}.isdisjoint(SLO_DETAIL_FIELDS)


def test_the_worst_gate_decides_and_missing_evidence_is_incomplete_never_pass():
    passing = [GateOutcome("slo:a", "PASS"), GateOutcome("scan:b", Verdict.PASS)]
    assert rc_verdict(passing) is Verdict.PASS
    assert rc_verdict(passing, missing_files=["raw/read.parquet"]) is Verdict.INCOMPLETE
    assert rc_verdict([*passing, GateOutcome("slo:c", "FAIL")], missing_files=["x"]) is Verdict.FAIL
    assert rc_verdict([]) is Verdict.INCOMPLETE


@pytest.mark.parametrize(
    ("others", "missing", "expected"),
    [
        ([], [], Verdict.PASS),
        ([GateOutcome("scan:b", "WARN")], [], Verdict.PASS),
        ([GateOutcome("scan:b", "INCONCLUSIVE")], [], Verdict.INCONCLUSIVE),
        ([GateOutcome("slo:c", "FAIL")], [], Verdict.FAIL),
        ([], ["slo/baseline.json"], Verdict.INCOMPLETE),
    ],
    ids=["warn alone", "two warns", "inconclusive wins", "fail wins", "missing evidence wins"],
)
def test_a_warn_gate_does_not_block_the_rc_but_anything_worse_still_decides(others, missing, expected):
    warned = baseline_gate("WARN", status="NO_BASELINE", baseline_rc=None, reason="nothing to compare with")
    gates = [GateOutcome("slo:a", "PASS"), warned, *others]
    assert rc_verdict(gates, missing_files=missing) is expected
    # the WARN stays on its gate, for the test result, the documents and the UI to report
    assert warned.verdict is Verdict.WARN and findings(gates)[0] == (
        "baseline:no_regression: WARN: nothing to compare with"
    )
    assert rc_verdict([warned]) is Verdict.PASS


def test_the_baseline_gate_is_reported_by_the_no_regression_check_and_fails_where_the_policy_says_fail():
    gate = baseline_gate("FAIL", status="COMPARED", baseline_rc="v24.1.0-rc1", reason="read p95 +40 %")
    assert gate.check_name == "no_regression" and gate.detail["baseline"] == "v24.1.0-rc1"
    assert rc_verdict([GateOutcome("slo:a", "PASS"), gate]) is Verdict.FAIL


def test_an_unknown_verdict_word_is_refused_where_the_gate_is_made():
    with pytest.raises(ValueError):
        GateOutcome("slo:a", "PASSED")


def test_findings_name_each_gate_that_did_not_pass_with_its_reason():
    gates = [GateOutcome("slo:a", "PASS"), GateOutcome("scan:b", "INCONCLUSIVE", {"reason": "no report"})]
    assert findings(gates) == ["scan:b: INCONCLUSIVE: no report"]
