"""The two Statements: spec fields, verdict mapping, and provenance that refuses secrets."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from tests.evidence.conftest import FINISHED, RC, STARTED, provenance
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.statements import (
    COMPLETENESS_TEST,
    EXTENSION,
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    GateOutcome,
    ProvenanceInputs,
    ReleaseCandidate,
    build_provenance_statement,
    build_test_result_statement,
    bundle_verdict,
    resource_descriptor,
    signed_release_candidate,
    subjects,
    tool_descriptor,
)

SUBJECTS = subjects({"slo/read.json": "a" * 64, "manifest.json": "b" * 64})


def _inputs(**changes: Any) -> ProvenanceInputs:
    base = provenance()
    return ProvenanceInputs(**{**base.__dict__, **changes})


def test_subjects_are_sorted_name_and_sha256() -> None:
    assert SUBJECTS == [
        {"name": "manifest.json", "digest": {"sha256": "b" * 64}},
        {"name": "slo/read.json", "digest": {"sha256": "a" * 64}},
    ]


@pytest.mark.parametrize(
    ("verdicts", "missing", "verdict", "result"),
    [
        (["PASS", "PASS"], [], "PASS", "PASSED"),
        (["PASS", "INCONCLUSIVE"], [], "INCONCLUSIVE", "WARNED"),
        (["PASS", "FAIL", "INCONCLUSIVE"], [], "FAIL", "FAILED"),
        (["PASS", "PASS"], ["raw/fanout.parquet"], "INCOMPLETE", "FAILED"),
        (["PASS", "INCONCLUSIVE"], ["raw/fanout.parquet"], "INCOMPLETE", "FAILED"),
        (["FAIL"], ["raw/fanout.parquet"], "FAIL", "FAILED"),
        ([], [], "INCOMPLETE", "FAILED"),
    ],
)
def test_verdict_and_test_result(verdicts: list, missing: list, verdict: str, result: str) -> None:
    gates = [GateOutcome(f"slo:{i}", v) for i, v in enumerate(verdicts)]
    assert bundle_verdict(gates, missing) == verdict
    statement = build_test_result_statement(SUBJECTS, RC, gates, missing_files=missing, configuration=[])
    predicate = statement["predicate"]
    assert predicate["result"] == result and predicate[EXTENSION]["verdict"] == verdict
    assert predicate["passedTests"] == [g.name for g in gates if g.verdict == "PASS"]
    assert predicate["warnedTests"] == [g.name for g in gates if g.verdict == "INCONCLUSIVE"]
    assert (COMPLETENESS_TEST in predicate["failedTests"]) == bool(missing or not gates)


def test_test_result_statement_has_the_spec_shape_and_the_rc() -> None:
    config = [resource_descriptor("slos.yaml", data=b"slos: []\n")]
    gate = GateOutcome("slo:read_p95", "PASS", {"value": 301.0, "threshold": 350.0, "ci95": [290.1, 320.4]})
    statement = build_test_result_statement(
        SUBJECTS, RC, [gate], missing_files=[], configuration=config, url="s3://b/p/"
    )
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == TEST_RESULT_PREDICATE
    assert statement["subject"] == SUBJECTS
    predicate = statement["predicate"]
    assert predicate["configuration"] == [
        {"name": "slos.yaml", "digest": {"sha256": hashlib.sha256(b"slos: []\n").hexdigest()}}
    ]
    assert predicate["url"] == "s3://b/p/"
    assert set(predicate) == {
        "result",
        "configuration",
        "url",
        "passedTests",
        "warnedTests",
        "failedTests",
        EXTENSION,
    }, "fields beyond test-result v0.1 sit under the one namespaced extension field"
    assert predicate[EXTENSION]["gates"] == [
        {
            "value": 301.0,
            "threshold": 350.0,
            "ci95": [290.1, 320.4],
            "name": "slo:read_p95",
            "verdict": "PASS",
        }
    ]
    assert signed_release_candidate(statement) == RC.as_json()


def test_provenance_has_the_slsa_v1_shape() -> None:
    statement = build_provenance_statement(SUBJECTS, RC, provenance("run-42"))
    assert statement["predicateType"] == SLSA_PROVENANCE_PREDICATE
    build = statement["predicate"]["buildDefinition"]
    run = statement["predicate"]["runDetails"]
    assert build["buildType"].startswith("urn:verification-pipeline:")
    assert build["externalParameters"]["releaseCandidate"] == RC.as_json()
    assert build["externalParameters"]["vus"] == 10
    assert [d["name"] for d in build["resolvedDependencies"]] == [
        "slos.yaml",
        "k6/graphql_read.js",
        "k6",
        "syft",
    ]
    assert build["resolvedDependencies"][2]["uri"] == "pkg:generic/k6@v1.1.0"
    assert run["builder"]["id"] and run["builder"]["version"]["dagster"] == "1.13.27"
    assert run["metadata"] == {
        "invocationId": "run-42",
        "startedOn": STARTED.isoformat().replace("+00:00", "Z"),
        "finishedOn": FINISHED.isoformat().replace("+00:00", "Z"),
    }
    assert signed_release_candidate(statement) == RC.as_json()


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"jwt": JWT}, "externalParameters.jwt"),
        ({"target": {"url": "http://t", "jwtSecret": "s3cr3t"}}, "externalParameters.target.jwtSecret"),
        ({"VP_TARGET_JWT": "x"}, "externalParameters.VP_TARGET_JWT"),
        ({"password": "hunter2"}, "externalParameters.password"),
        ({"apiKey": "abc"}, "externalParameters.apiKey"),
        ({"signing_key": "/keys/evidence.key"}, "externalParameters.signing_key"),
        ({"s3": {"secret_access_key": "abc"}}, "externalParameters.s3.secret_access_key"),
        ({"headers": [{"Authorization": "Bearer x"}]}, "externalParameters.headers[0].Authorization"),
        ({"auth_header": JWT}, "externalParameters.auth_header"),
        ({"endpoint": "http://admin:hunter2@127.0.0.1:8333"}, "externalParameters.endpoint"),
        ({"note": "-----BEGIN PRIVATE KEY-----\nMC4C..."}, "externalParameters.note"),
        ({"id": "AKIAABCDEFGHIJKLMNOP"}, "externalParameters.id"),
    ],
)
def test_provenance_refuses_secret_looking_parameters_naming_the_field_not_the_value(
    params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_provenance_statement(SUBJECTS, RC, _inputs(external_parameters=params))
    message = str(caught.value)
    assert f"[{field}]" in message
    for secret in (JWT, "s3cr3t", "hunter2", "MC4C", "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in message


def test_internal_parameters_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"internalParameters\.token"):
        build_provenance_statement(SUBJECTS, RC, _inputs(internal_parameters={"token": "t"}))


def test_harmless_parameters_pass_including_key_ids() -> None:
    params = {"keyId": "SHA256:ab", "key_id": "x", "k6Script": "k6/graphql_read.js", "vus": 10, "tags": ["a"]}
    statement = build_provenance_statement(SUBJECTS, RC, _inputs(external_parameters=params))
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["keyId"] == "SHA256:ab"


def test_caller_cannot_override_the_signed_rc() -> None:
    with pytest.raises(ConfigError, match="releaseCandidate"):
        build_provenance_statement(
            SUBJECTS, RC, _inputs(external_parameters={"releaseCandidate": {"tag": "x"}})
        )


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ConfigError, match="startedOn"):
        build_provenance_statement(SUBJECTS, RC, _inputs(started_on=dt.datetime(2025, 1, 1)))


def test_resource_descriptor_needs_a_digest_or_uri() -> None:
    with pytest.raises(ConfigError, match="needs its bytes, a digest or a uri"):
        resource_descriptor("slos.yaml")


@pytest.mark.parametrize("commit", ["", "abc123", "Z" * 40, "3f2a9c0d1e4b5a6978877665544332211aabbcc"])
def test_a_release_candidate_needs_a_full_commit_id(commit: str) -> None:
    with pytest.raises(ConfigError, match="release_candidate.commit"):
        ReleaseCandidate(tag=RC.tag, commit=commit, version=RC.version)


def test_a_tool_is_recorded_with_the_digest_of_its_binary() -> None:
    descriptor = tool_descriptor("k6", "v1.1.0", binary_sha256="e" * 64)
    assert descriptor["digest"] == {"sha256": "e" * 64} and descriptor["uri"] == "pkg:generic/k6@v1.1.0"
