"""A FAIL measured by a saturated client is signed INCONCLUSIVE (`health.assess`); `verify`, which
recomputes every SLO verdict from the signed figures, accepts exactly that downgrade and no other."""

from __future__ import annotations

from verification_pipeline.evidence.verify.schemas import Gate
from verification_pipeline.evidence.verify.verdicts import allowed_verdicts
from verification_pipeline.gates import UNTRUSTED_MEASUREMENT
from verification_pipeline.health.assess import apply_health
from verification_pipeline.slo_row import SloRow
from verification_pipeline.verdict import Verdict

FAILING = {"value": 413.0, "threshold": 350.0, "ci_low": 405.0, "ci_high": 420.0}


def _gate(verdict: str, reason: str) -> Gate:
    return Gate(name="slo:read_latency_p95", verdict=verdict, reason=reason, **FAILING)


def test_figures_that_fail_allow_inconclusive_only_when_the_measurement_was_not_trusted():
    untrusted = _gate(
        "INCONCLUSIVE", f"{UNTRUSTED_MEASUREMENT} (k6 at 98 % CPU for 12 s); it would have been FAIL"
    )
    assert allowed_verdicts(untrusted, None) == {Verdict.FAIL, Verdict.INCONCLUSIVE}  # type: ignore[arg-type]
    plain = _gate("INCONCLUSIVE", "p95 413 ms")
    assert allowed_verdicts(plain, None) == {Verdict.FAIL}  # type: ignore[arg-type]
    # never PASS, whatever the reason says
    assert Verdict.PASS not in allowed_verdicts(untrusted, None)  # type: ignore[arg-type]


def _row() -> SloRow:
    return SloRow(
        name="read_latency_p95",
        metric="quantile",
        source="read",
        quantile=0.95,
        n=5_000,
        confidence=0.95,
        unit="ms",
        verdict=Verdict.FAIL,
        reason="p95 413 ms",
        **FAILING,
    )


def test_the_reason_health_writes_is_the_one_verify_accepts():
    section = {"phases": [{"phase": "read", "saturated": True, "reasons": ["k6 at 98 % CPU for 12 s"]}]}
    [changed] = apply_health([_row()], section)
    assert changed.verdict is Verdict.INCONCLUSIVE and changed.reason.startswith(UNTRUSTED_MEASUREMENT)
    gate = _gate(changed.verdict.value, changed.reason)
    assert Verdict(gate.verdict) in allowed_verdicts(gate, None)  # type: ignore[arg-type]
