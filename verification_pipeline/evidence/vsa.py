"""The bundle's SLSA Verification Summary Attestation (https://slsa.dev/verification_summary/v1).

What a deployment admission check reads: this verifier judged the RC's commit (the subject, by
`gitCommit`) against the release gates (the policy: their configuration, by digest), from the
bundle's two other statements (the inputs, by the sha256 of the exact payload each envelope signs),
and the result is PASSED only for a PASS verdict. It claims no SLSA track level it has not
checked: `verifiedLevels` is `SLSA_BUILD_LEVEL_UNEVALUATED` when PASSED (the spec's "no claim
about the track level") and `FAILED` otherwise, as the spec defines.

`check_vsa_statement` is how `verify` checks it: each field derived again from the verified
statements, so a VSA that says PASSED over a FAIL, or names other inputs, does not verify.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.layout import ATTESTATIONS, sha256_hex
from verification_pipeline.evidence.statements import (
    STATEMENT_TYPE,
    VERIFICATION_SUMMARY_PREDICATE,
    ReleaseCandidate,
    canonical_json,
    rfc3339,
)

VSA_PREDICATE = VERIFICATION_SUMMARY_PREDICATE
VERIFIER_ID = "urn:verification-pipeline:verifier"
GATES_POLICY_URI = "urn:verification-pipeline:policy:release-gates:v1"
"""The policy: the pipeline's release gates (gates.py) as configured by the test-result's
`configuration` (slos.yaml, the k6 scripts), whose canonical JSON the policy digest covers."""
SLSA_VERSION = "1.1"
NO_LEVEL_CLAIMED = "SLSA_BUILD_LEVEL_UNEVALUATED"
_WHERE = f"{ATTESTATIONS} [verification summary"


def resource_uri(rc: ReleaseCandidate) -> str:
    """The resource the summary is for: the RC (its tag names the commit the subject pins)."""
    return f"urn:verification-pipeline:release-candidate:{rc.tag}"


def policy_digest(configuration: Sequence[Mapping[str, Any]]) -> str:
    return sha256_hex(canonical_json([dict(c) for c in configuration]))


def input_attestations(payload_sha256: Sequence[str]) -> list[dict[str, Any]]:
    """Each input statement by the sha256 of the payload its envelope signs.

    No `uri` (the spec: SHOULD): the statements sit beside this one in the same file, wherever the
    bundle is stored, and a relative name is not a URI; the digest is what identifies them."""
    return [{"digest": {"sha256": digest}} for digest in payload_sha256]


def build_vsa_statement(
    rc: ReleaseCandidate,
    inputs: Sequence[Mapping[str, Any]],
    *,
    verdict: str,
    configuration: Sequence[Mapping[str, Any]],
    verified_at: dt.datetime,
    verifier_version: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    passed = verdict == "PASS"
    verifier: dict[str, Any] = {"id": VERIFIER_ID}
    if verifier_version:
        verifier["version"] = dict(verifier_version)
    predicate = {
        "verifier": verifier,
        "timeVerified": rfc3339(verified_at, "timeVerified"),
        "resourceUri": resource_uri(rc),
        "policy": {"uri": GATES_POLICY_URI, "digest": {"sha256": policy_digest(configuration)}},
        "inputAttestations": input_attestations([sha256_hex(canonical_json(s)) for s in inputs]),
        "verificationResult": "PASSED" if passed else "FAILED",
        "verifiedLevels": [NO_LEVEL_CLAIMED if passed else "FAILED"],
        "slsaVersion": SLSA_VERSION,
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": resource_uri(rc), "digest": {"gitCommit": rc.commit}}],
        "predicateType": VSA_PREDICATE,
        "predicate": predicate,
    }


def check_vsa_statement(
    subject: Sequence[Mapping[str, Any]],
    predicate: Mapping[str, Any],
    input_payload_sha256: Sequence[str],
    rc: Mapping[str, str],
    verdict: str,
    configuration: Sequence[Mapping[str, Any]],
) -> None:
    """The verified VSA says what the verified statements say; else VerificationFailed naming the field.

    `input_payload_sha256`: the sha256 of the test-result's and the provenance's signed payloads."""
    expected_uri = f"urn:verification-pipeline:release-candidate:{rc['tag']}"
    if subject != [{"name": expected_uri, "digest": {"gitCommit": rc["commit"]}}]:
        raise VerificationFailed(f"{_WHERE}.subject]: not the signed RC's commit {rc['commit']}")
    checks = {
        "resourceUri": expected_uri,
        "verificationResult": "PASSED" if verdict == "PASS" else "FAILED",
        "verifiedLevels": [NO_LEVEL_CLAIMED if verdict == "PASS" else "FAILED"],
        "inputAttestations": input_attestations(input_payload_sha256),
        "policy": {"uri": GATES_POLICY_URI, "digest": {"sha256": policy_digest(configuration)}},
    }
    for field, expected in checks.items():
        if predicate.get(field) != expected:
            raise VerificationFailed(
                f"{_WHERE}.{field}]: {predicate.get(field)!r} is not what the signed statements give ({expected!r})"
            )
    if not isinstance(predicate.get("verifier"), Mapping) or predicate["verifier"].get("id") != VERIFIER_ID:
        raise VerificationFailed(f"{_WHERE}.verifier]: not this pipeline's verifier {VERIFIER_ID}")
