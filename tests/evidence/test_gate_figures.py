"""The figures the producer signs with each scan and baseline gate recompute, in `verify`, to the
verdict the producer decided: the real `scans.summary` and `compare.document` on real tables and
samples, through the records and gates the bundle signs, judged by `evidence/verify/figures.py`
(written apart from them). A producer whose rule drifts from the verifier's is caught here, not
by a release that its own verify refuses."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.compare.test_document import INFO, reads, spec_with
from verification_pipeline.compare.document import comparison_document, no_baseline_document
from verification_pipeline.evidence.verify.figures import carries_figures, figure_verdicts
from verification_pipeline.evidence.verify.schemas import Gate
from verification_pipeline.gates import GateOutcome
from verification_pipeline.records import BaselineComparisonRecord, ScanSummaryRecord
from verification_pipeline.scans.schemas import COMPONENT_SCHEMA, POLICY_SCHEMA, VULNERABILITY_SCHEMA, frame
from verification_pipeline.scans.summary import summarize_scans
from verification_pipeline.scans.vuln_policy import AllowlistEntry, VulnerabilityPolicy


def _signed(outcome: GateOutcome) -> Gate:
    """The gate as the test result signs it and `verify` reads it back."""
    detail = json.loads(
        json.dumps({**outcome.detail, "name": outcome.name, "verdict": outcome.verdict.value})
    )
    return Gate.model_validate(detail)


def _judged(outcome: GateOutcome) -> None:
    gate = _signed(outcome)
    assert carries_figures(gate), outcome.name
    assert figure_verdicts(gate, "x") == {outcome.verdict}, (outcome.name, outcome.detail)


def _vulnerability(vuln_id: str, severity: str, fix_state: str) -> dict[str, Any]:
    return {
        "id": vuln_id,
        "severity": severity,
        "package": "pkg",
        "version": "1",
        "fix_state": fix_state,
        "fixed_versions": ["2"] if fix_state == "fixed" else [],
    }


@pytest.mark.parametrize(
    ("vulnerabilities", "policies", "components"),
    [
        ([], [(3, 0, 0)], 4),  # everything passes
        ([("C-1", "Critical", "not-fixed"), ("H-1", "High", "fixed")], [(2, 1, 0)], 0),  # all fail
        (
            [("C-2", "Critical", "fixed"), ("H-2", "High", "not-fixed"), ("M-1", "Medium", "fixed")],
            [(0, 0, 0)],
            1,
        ),
        (None, None, None),  # no report at all
    ],
    ids=["pass", "fail", "waived-critical-and-nothing-passed", "absent"],
)
def test_scan_gates_figures_recompute_to_their_verdicts(
    vulnerabilities: list[tuple[str, str, str]] | None,
    policies: list[tuple[int, int, int]] | None,
    components: int | None,
) -> None:
    summary = summarize_scans(
        components=None
        if components is None
        else frame([{"name": f"c{i}", "licenses": []} for i in range(components)], COMPONENT_SCHEMA),
        vulnerabilities=None
        if vulnerabilities is None
        else frame([_vulnerability(*row) for row in vulnerabilities], VULNERABILITY_SCHEMA),
        policies=None
        if policies is None
        else frame(
            [
                {"policy": "p", "passed": p, "failed": f, "errors": e, "warnings": 1, "skipped": 0}
                for p, f, e in policies
            ],
            POLICY_SCHEMA,
        ),
        vulnerability_policy=VulnerabilityPolicy(
            allowlist=[AllowlistEntry(id="C-2", reason="not reachable", expires=dt.date(2099, 1, 1))]
        ),
        today=dt.date(2026, 1, 1),
    )
    record = ScanSummaryRecord.model_validate(json.loads(json.dumps(summary.to_dict())))
    for outcome in record.gate_outcomes():
        _judged(outcome)


@pytest.mark.parametrize("on_regression", ["warn", "fail"])
def test_baseline_gate_figures_recompute_to_its_verdict(on_regression: str) -> None:
    spec = spec_with(on_regression=on_regression)
    for current, baseline in (
        (reads(1), reads(2)),
        (reads(5, scale=1.3), reads(6)),
        (reads(7, failed_every=20), reads(8)),
    ):
        document = comparison_document(
            spec, rc="v24.1.0-rc2", current=current, baseline=baseline, baseline_info=INFO
        )
        _judged(BaselineComparisonRecord.model_validate(json.loads(json.dumps(document))).gate())
    alone = no_baseline_document("v24.1.0-rc2", 0.95, "no earlier RC")
    _judged(BaselineComparisonRecord.model_validate(alone).gate())


def test_the_slowdown_case_is_a_called_regression() -> None:
    """The cases above are not all PASS: a 30 % slowdown is called, and verify agrees with the call."""
    document = comparison_document(
        spec_with(on_regression="fail"),
        rc="v24.1.0-rc2",
        current=reads(5, scale=1.3),
        baseline=reads(6),
        baseline_info=INFO,
    )
    gate = BaselineComparisonRecord.model_validate(json.loads(json.dumps(document))).gate()
    assert gate.verdict.value == "FAIL" and figure_verdicts(_signed(gate), "x") == {gate.verdict}
    assert any(c["classification"] == "slower" for c in gate.detail["comparisons"])
