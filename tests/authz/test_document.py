"""The authorization gate from rows alone: classification, per-kind counts, the leak-rate bound."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from reference_target.tokens import TokenRejected, TokenVerifier, mint_token
from verification_pipeline.authz.document import authz_document, leak_upper_bound
from verification_pipeline.authz.probe import ROWS_SCHEMA, Kind, Outcome, classify, plan_attempts
from verification_pipeline.authz.tokens import AuthzTokens, forge, tenant_claim

SECRET = b"k" * 32


def _body(data=None, code=None) -> bytes:
    doc: dict = {"data": data}
    if code:
        doc["errors"] = [{"message": "no", "extensions": {"code": code}}]
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (401, b"", Outcome.REFUSED),
        (403, _body(code="FORBIDDEN"), Outcome.REFUSED),
        (200, _body({"tenantCoherence": None}, "FORBIDDEN"), Outcome.REFUSED),  # 200 + error: still refused
        (200, _body({"tenantCoherence": {"tenantId": "b"}}), Outcome.ADMITTED),  # another tenant's data
        (200, _body({"tenantCoherence": None}), Outcome.OTHER),
        (429, b"", Outcome.SHED),
        (503, b"", Outcome.ERROR),
        (None, b"", Outcome.ERROR),  # a timeout tested nothing
        (400, _body(code="BAD_USER_INPUT"), Outcome.OTHER),
        (200, b"not json", Outcome.OTHER),
    ],
)
def test_each_answer_is_classified(status, body, outcome):
    assert classify(status, body, "tenantCoherence") is outcome


def test_kinds_without_their_token_are_not_tried_and_say_which_variable():
    plan = plan_attempts(AuthzTokens(main=mint_token(SECRET, "t1", ["coherence:read"])), "t1")
    assert [a.kind for a in plan.attempts] == [Kind.CROSS_TENANT_READ, Kind.CROSS_TENANT_WRITE, Kind.FORGED]
    assert plan.not_tried == {
        "missing_scope": "VP_TARGET_JWT_READ_ONLY not given",
        "expired": "VP_TARGET_JWT_EXPIRED not given",
        "residency": "the service declares no residency rule (VP_TARGET_RESIDENCY not given)",
    }
    assert plan.other_tenant != "t1"


def test_the_neighbours_token_names_the_other_tenant_and_a_forged_token_does_not_verify():
    tokens = AuthzTokens(
        main=mint_token(SECRET, "t1", ["coherence:read"]), neighbour=mint_token(SECRET, "t2", [])
    )
    assert tenant_claim(tokens.neighbour) == "t2"
    assert plan_attempts(tokens, "t1").other_tenant == "t2"
    verifier = TokenVerifier(SECRET)
    verifier.verify(tokens.main)
    with pytest.raises(TokenRejected, match="signature"):
        verifier.verify(forge(tokens.main))


def _rows(outcomes: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"seq": i, "ts": 1.0 + i, "kind": k, "status": s, "outcome": o, "latency_ms": 1.0}
            for i, (k, o, s) in enumerate(outcomes)
        ],
        schema=ROWS_SCHEMA,
        orient="row",
    )


TRIED = ["cross_tenant_read", "cross_tenant_write", "forged"]
NOT_TRIED = {"expired": "VP_TARGET_JWT_EXPIRED not given", "missing_scope": "x", "residency": "y"}


def test_a_single_admitted_request_fails_the_gate_and_names_its_kind():
    rows = _rows([("cross_tenant_read", "refused", 403)] * 999 + [("cross_tenant_read", "admitted", 200)])
    doc = authz_document(rows, tried=TRIED, not_tried=NOT_TRIED, confidence=0.95)
    assert doc["verdict"] == "FAIL" and doc["admitted"] == 1 and doc["leak_rate_upper_bound"] is None
    assert "1 of 1,000 forbidden requests were admitted (cross_tenant_read 1)" in doc["reason"]
    assert "not tried: missing_scope, expired, residency" in doc["reason"]


def test_none_admitted_passes_with_the_bound_and_never_counts_shed_or_errors_as_tested():
    rows = _rows(
        [("forged", "refused", 401)] * 1000 + [("forged", "shed", 429)] * 50 + [("forged", "error", 0)] * 5
    )
    doc = authz_document(rows, tried=TRIED, not_tried=NOT_TRIED, confidence=0.95)
    assert doc["verdict"] == "PASS" and doc["answered"] == 1000
    assert doc["leak_rate_upper_bound"] == pytest.approx(0.002991, abs=1e-6)  # about 3/n at 95 %
    assert "5 answered with a 5xx or not at all" in doc["reason"]
    forged = next(k for k in doc["kinds"] if k["kind"] == "forged")
    assert forged["statuses"] == {"0": 5, "401": 1000, "429": 50}
    assert next(k for k in doc["kinds"] if k["kind"] == "expired") == {
        "kind": "expired",
        "tried": False,
        "reason": "VP_TARGET_JWT_EXPIRED not given",
    }
    assert doc["excluded_from_slo"] is True


def test_nothing_answered_is_inconclusive_not_a_pass():
    doc = authz_document(_rows([("forged", "shed", 429)] * 10), tried=TRIED, not_tried={}, confidence=0.95)
    assert doc["verdict"] == "INCONCLUSIVE"


@pytest.mark.parametrize("n", [60, 1000])
def test_the_leak_bound_covers_the_true_rate_at_its_confidence_by_simulation(n):
    """Across true leak rates near the bound, '0 leaks seen and bound < true rate' happens at most 5 % of runs."""
    rng = np.random.default_rng(20261207)
    bound = leak_upper_bound(n, 0.95)
    trials = 40_000
    for factor in (0.5, 0.9, 1.0001, 1.5, 3.0):
        p = bound * factor
        leaks = rng.binomial(n, p, size=trials)
        missed = np.mean((leaks == 0) & (bound < p))
        assert missed <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / trials), (factor, missed)
    # and it is not loose: just above the bound, 0 leaks happens close to 5 % of the time
    assert np.mean(rng.binomial(n, bound * 1.0001, size=trials) == 0) == pytest.approx(0.05, abs=0.006)


def test_the_audit_recomputation_finds_a_document_that_its_rows_do_not_give():
    from verification_pipeline.audit.recompute import _differences
    from verification_pipeline.authz.document import recompute_authz_document

    rows = _rows([("forged", "refused", 401)] * 100 + [("cross_tenant_read", "admitted", 200)])
    recorded = authz_document(rows, tried=TRIED, not_tried=NOT_TRIED, confidence=0.95)
    again = recompute_authz_document(rows, recorded)
    assert list(_differences(recorded, again, "", 1e-9, 1e-6)) == []
    tampered = {**recorded, "verdict": "PASS", "admitted": 0}
    found = {
        d.field for d in _differences(tampered, recompute_authz_document(rows, tampered), "", 1e-9, 1e-6)
    }
    assert found == {"verdict", "admitted"}


def test_the_release_documents_show_each_kind_under_policy_and_cost_controls():
    from tests.artifacts.test_docs import DATE, EVIDENCE, RC, _fanout, _requests
    from verification_pipeline.artifacts.docs import render_release_docs
    from verification_pipeline.slo.metrics import compute_slo_metrics
    from verification_pipeline.slo.spec import default_slo_spec

    frame = compute_slo_metrics(
        default_slo_spec(),
        read=_requests(2000, 40, 300),
        write=_requests(2000, 80, 600, seed=2),
        fanout=_fanout(300, 200),
    )
    rows = _rows([("cross_tenant_read", "refused", 403)] * 7 + [("cross_tenant_read", "admitted", 200)])
    authz = authz_document(rows, tried=TRIED, not_tried=NOT_TRIED, confidence=0.95)
    docs = render_release_docs(
        frame, version="v24.1", rc=RC, date=DATE, evidence_uri=EVIDENCE, verdict="FAIL", authz=authz
    )
    for text in docs.values():
        section = text.split("Policy and cost controls under load", 1)[1]
        assert "**FAIL**, authz:no_forbidden_admitted: 1 of 8 forbidden requests were admitted" in section
        assert "| cross_tenant_read | 8 | 7 | 1 | 0 | 0 |" in section
        assert "| expired | not tried: VP_TARGET_JWT_EXPIRED not given |" in section


def test_nothing_sent_is_a_not_measured_warning_never_a_pass():
    doc = authz_document(pl.DataFrame(schema=ROWS_SCHEMA), tried=[], not_tried={}, confidence=0.95)
    assert doc["verdict"] == "WARN" and "NOT MEASURED" in doc["reason"]
