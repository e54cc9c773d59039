"""Residency as a forbidden-request kind, against the real reference target: it keeps data in
eu-west-1 and eu-central-1 and refuses a request naming another region; a build without the
rule answers it, and the gate FAILs naming residency. Not declared, the kind is not tried."""

from __future__ import annotations

import pytest

from verification_pipeline.authz.document import authz_document
from verification_pipeline.authz.probe import ProbeSettings, Residency, plan_attempts, run_probe
from verification_pipeline.authz.tokens import AuthzTokens

TENANT = "tenant-123"
RULE = Residency.parse("X-Data-Region=us-east-1")


def _document(target) -> dict:
    plan = plan_attempts(AuthzTokens(main=target.token(TENANT)), TENANT, RULE)
    rows = run_probe(target.graphql_url, plan, ProbeSettings(concurrency=4), total=200)
    return authz_document(
        rows, tried=[a.kind.value for a in plan.attempts], not_tried=plan.not_tried, confidence=0.95
    )


def test_the_reference_target_refuses_a_request_naming_a_region_it_may_not_keep_data_in(target):
    doc = _document(target)
    residency = next(k for k in doc["kinds"] if k["kind"] == "residency")
    assert doc["verdict"] == "PASS", doc["reason"]
    assert residency["tried"] and residency["refused"] == residency["attempts"] == 50
    assert residency["statuses"] == {"403": 50}


def test_a_build_without_the_residency_rule_fails_the_gate_naming_it(start_target):
    doc = _document(start_target("--allowed-regions", ""))
    assert doc["verdict"] == "FAIL" and "(residency 50)" in doc["reason"], doc["reason"]


def test_residency_not_declared_is_not_tried_and_a_malformed_rule_is_refused():
    plan = plan_attempts(AuthzTokens(main="a.b.c"), TENANT)
    assert (
        plan.not_tried["residency"]
        == "the service declares no residency rule (VP_TARGET_RESIDENCY not given)"
    )
    with pytest.raises(ValueError, match="HEADER=REGION"):
        Residency.parse("X-Data-Region us-east-1")
