"""The overload phase against the real reference target (k6 on loopback, bounded: 4 s past the
limit and 4 s of recovery per run). Started with no flags, the target enforces the per-tenant
limit the packaged slos.yaml declares and passes every overload gate; its two limiter faults
each turn the right gate FAIL, and the gate's reason names what went wrong."""

from __future__ import annotations

import json

import pytest

from reference_target.tokens import mint_token
from verification_pipeline.gates import (
    OVERLOAD_ADMITTED_P95,
    OVERLOAD_REFUSALS,
    OVERLOAD_SHED,
)
from verification_pipeline.overload.k6 import OverloadTenants, PhaseTiming, run_overload
from verification_pipeline.slo.overload import (
    GATES,
    overload_document,
    phase_inputs,
    recompute_overload_document,
)
from verification_pipeline.slo.spec import default_slo_spec

pytestmark = pytest.mark.slow
TIMING = PhaseTiming(overload_s=4, recovery_s=4)


def _phase(target, name: str) -> dict:
    spec = default_slo_spec()
    assert spec.cost_controls is not None
    a, b = f"overload-{name}-a", f"overload-{name}-b"
    tenants = OverloadTenants(
        a,
        mint_token(target.jwt_secret, a, ["coherence:read"]),
        b,
        mint_token(target.jwt_secret, b, ["coherence:read"]),
    )
    rows = run_overload(target.graphql_url, tenants, spec.cost_controls, TIMING)
    inputs = phase_inputs(
        spec, overload_s=TIMING.overload_s, recovery_s=TIMING.recovery_s, tenants={"a": a, "b": b}
    )
    document = json.loads(json.dumps(overload_document(rows, inputs)))
    # audit's recomputation from the raw rows gives the same document
    assert json.loads(json.dumps(recompute_overload_document(rows, document))) == document
    return document


@pytest.fixture(scope="module")
def runs(target) -> dict[str, dict]:
    """One phase per state of the target: no fault, then 503 instead of 429, then a queueing limiter
    (last: its backlog drains after k6 has gone). Each with tenants of its own, so no bucket carries over."""
    found = {"clean": _phase(target, "clean")}
    with target.faults(shed_with_503=True):
        found["503"] = _phase(target, "503")
    with target.faults(limiter_queues=True):
        found["queues"] = _phase(target, "queues")
    return found


def _gates(document: dict) -> dict[str, dict]:
    return {gate["name"]: gate for gate in document["gates"]}


def test_a_target_without_faults_passes_every_overload_gate(runs):
    document = runs["clean"]
    assert [g["name"] for g in document["gates"]] == list(GATES)
    assert document["verdict"] == "PASS", (
        document["reason"] + "\n" + "\n".join(g["reason"] for g in document["gates"])
    )
    figures = document["figures"]
    # offered at twice the limit (no coordinated omission: the schedule kept its rate), shed down to it
    assert 180 <= figures["offered_rps"] <= 220 and figures["dropped"] <= figures["offered"] // 50
    assert 90 <= figures["admitted_rps"] <= 100 * 5 / 4 * 1.1
    assert figures["refused_rps"] >= 60 and figures["refusal_statuses"] == {"429": figures["refused"]}
    assert figures["retry_after_share"] == 1.0 and figures["recovery_s"] == 0.0, figures["recovery_seconds"]
    assert figures["neighbour_error_rate_pct"] == 0.0


def test_a_limiter_answering_503_fails_the_refusal_gate_naming_the_status(runs):
    gates = _gates(runs["503"])
    refusals = gates[OVERLOAD_REFUSALS]
    assert refusals["verdict"] == "FAIL" and "503 x" in refusals["reason"]
    assert "a failure under overload, not shedding" in refusals["reason"]
    assert gates[OVERLOAD_SHED]["verdict"] == "FAIL"


def test_a_limiter_that_queues_fails_shedding_and_the_admitted_latency(runs):
    gates = _gates(runs["queues"])
    shed = gates[OVERLOAD_SHED]
    assert shed["verdict"] == "FAIL", shed["reason"]
    assert "queues" in shed["reason"] and shed["refused"] == 0
    assert gates[OVERLOAD_ADMITTED_P95]["verdict"] == "FAIL", gates[OVERLOAD_ADMITTED_P95]["reason"]
    # the backlog it built (as deep as k6's VUs let it grow) still delays the first seconds after
    assert runs["queues"]["figures"]["recovery_seconds"][0]["good"] is False
