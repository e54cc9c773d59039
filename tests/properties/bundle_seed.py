"""The evidence bundle the verification properties mutate, the key that signs it, and the oracle.

A small but complete bundle (every file kind, one expected file missing so the manifest and the
predicate must say so), signed at import with a fresh Ed25519 key. `resign` signs edited
statements with that same trusted key, to reach the checks behind the signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.properties.mutations import dumps_with_tokens
from tests.properties.oracles import typed_outcome
from verification_pipeline.evidence.bundle import EvidenceBundle, assemble_bundle
from verification_pipeline.evidence.dsse import sign_envelope
from verification_pipeline.evidence.keys import SigningKey
from verification_pipeline.evidence.layout import ATTESTATIONS, expected_files, sha256_hex
from verification_pipeline.evidence.statements import (
    GateOutcome,
    ProvenanceInputs,
    ReleaseCandidate,
    resource_descriptor,
    tool_descriptor,
)
from verification_pipeline.evidence.verify import VerificationReport, verify_files

FAMILY = "bundle"
RC = ReleaseCandidate(tag="v24.1.0-rc1", commit="3f2a9c0d1e4b5a6978877665544332211aabbccd", version="v24.1")
SOURCE = "s3://evidence/verification/v24.1.0-rc1/run-1/evidence/v24.1"
# The bundle verdict and the test-result v0.1 `result` it implies (statements.build_test_result_statement).
RESULT_OF_VERDICT = {"PASS": "PASSED", "INCONCLUSIVE": "WARNED", "FAIL": "FAILED", "INCOMPLETE": "FAILED"}


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _build(key: SigningKey) -> EvidenceBundle:
    evidence = {name: f"{name}: evidence for {RC.version}\n".encode() for name in expected_files(RC.version)}
    evidence["raw/read.parquet"] = _parquet(
        pl.DataFrame({"op": ["read"] * 3, "latency_ms": [110.0, 120.5, 301.0]})
    )
    evidence["slo/metrics.json"] = json.dumps({"read": {"count": 3, "p95_ms": 283.0}}).encode()
    del evidence["slo/fanout.json"]  # one file missing: the manifest and the predicate must say so
    return assemble_bundle(
        evidence,
        release_candidate=RC,
        signing_key=key,
        provenance=ProvenanceInputs(
            run_id="2b7e5f0c-1111-4d2a-9a0b-6d5c4b3a2f10",
            started_on=dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC),
            finished_on=dt.datetime(2025, 3, 1, 12, 4, tzinfo=dt.UTC),
            external_parameters={"source": "run", "vus": 10},
            resolved_dependencies=[
                resource_descriptor("slos.yaml", data=b"slos: []\n"),
                tool_descriptor("k6", "v1.1.0", binary_sha256="c" * 64),
            ],
        ),
        outcomes=[
            GateOutcome(
                "slo:read_p95", "PASS", {"value": 283.0, "threshold": 350.0, "n": 200, "min_samples": 200}
            )
        ],
        configuration=[resource_descriptor("slos.yaml", data=b"slos: []\n")],
        created_at=dt.datetime(2025, 3, 1, 12, 5, tzinfo=dt.UTC),
    )


KEY = SigningKey(Ed25519PrivateKey.generate(), source="property-test key", is_dev_key=False)
TRUSTED = KEY.public_key
BUNDLE = _build(KEY)
FILES: Mapping[str, bytes] = BUNDLE.files
NAMES = sorted(FILES)
SIGNED = [name for name in NAMES if name != ATTESTATIONS]
REFERENCE = verify_files(FILES, TRUSTED, source=SOURCE)


def report_invariants(report: VerificationReport) -> Mapping[str, str]:
    problems = {}
    if RESULT_OF_VERDICT.get(report.verdict, "-") != report.result:
        problems["bundle-predicate-values-unchecked"] = (
            f"verified with verdict {report.verdict!r} and test-result {report.result!r}"
        )
    if report.files < 1 or not report.release_candidate.get("tag"):
        problems["empty-report"] = "a verified bundle names its RC and at least one file"
    if report.verdict == "PASS" and report.missing_files:
        problems["pass-with-gaps"] = "PASS although evidence is missing"
    return problems


def verify(
    files: Mapping[str, bytes], label: str, *, names: list[str] | None = None
) -> VerificationReport | None:
    return typed_outcome(
        label,
        lambda: verify_files(files, TRUSTED, source=SOURCE),
        source=SOURCE,
        family=FAMILY,
        names=[*(names or ()), *NAMES],
        invariants=report_invariants,
    )


def same_claims(report: VerificationReport) -> bool:
    return (report.release_candidate, report.verdict, report.result, report.files, report.missing_files) == (
        REFERENCE.release_candidate,
        REFERENCE.verdict,
        REFERENCE.result,
        REFERENCE.files,
        REFERENCE.missing_files,
    )


def _statements() -> list[dict[str, Any]]:
    return [
        json.loads(base64.b64decode(json.loads(line)["payload"])) for line in FILES[ATTESTATIONS].splitlines()
    ]


STATEMENTS = _statements()


def sign_all(statements: list[Any], payloads: list[bytes] | None = None) -> bytes:
    bodies = payloads or [dumps_with_tokens(s).encode("utf-8", "surrogatepass") for s in statements]
    return b"".join(json.dumps(sign_envelope(body, KEY)).encode() + b"\n" for body in bodies)


def with_subject(statements: list[Any], name: str, data: bytes) -> list[Any]:
    for statement in statements:
        for subject in statement["subject"]:
            if subject["name"] == name:
                subject["digest"]["sha256"] = sha256_hex(data)
    return statements
