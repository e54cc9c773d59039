"""`verify` checks the verification summary like the other statements: present, signed by the trusted
key, and saying exactly what the other two signed statements say."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from tests.evidence.conftest import RC, BuildBundle, outcomes
from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.dsse import sign_envelope
from verification_pipeline.evidence.keys import SigningKey, load_public_key_file
from verification_pipeline.evidence.layout import ATTESTATIONS
from verification_pipeline.evidence.statements import canonical_json
from verification_pipeline.evidence.verify import verify_files


def _lines(bundle: EvidenceBundle) -> list[bytes]:
    return bundle.files[ATTESTATIONS].splitlines()


def _summary(bundle: EvidenceBundle) -> dict:
    return json.loads(base64.b64decode(json.loads(_lines(bundle)[2])["payload"]))


def _with_summary(
    bundle: EvidenceBundle, key: SigningKey, change: Callable[[dict], None]
) -> dict[str, bytes]:
    summary = _summary(bundle)
    change(summary)
    lines = _lines(bundle)
    files = dict(bundle.files)
    files[ATTESTATIONS] = (
        b"\n".join([lines[0], lines[1], canonical_json(sign_envelope(canonical_json(summary), key))]) + b"\n"
    )
    return files


def test_a_bundle_without_a_summary_verifies_and_says_it_has_none(bundle: EvidenceBundle, key_pair) -> None:
    # bundles made before the summary existed (tests/fixtures/previous_release) must still verify;
    # dropping it removes a claim and changes nothing the other statements sign
    files = dict(bundle.files)
    files[ATTESTATIONS] = b"\n".join(_lines(bundle)[:2]) + b"\n"
    report = verify_files(files, load_public_key_file(key_pair.public_key))
    assert report.summary is None
    assert "  summary (VSA):     none (a bundle made before VSAs)" in report.summary_lines()
    full = verify_files(bundle.files, load_public_key_file(key_pair.public_key))
    assert (
        full.summary == "PASSED"
        and "  summary (VSA):     PASSED, for the RC's commit" in full.summary_lines()
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda s: s["predicate"].update(
                verificationResult="PASSED", verifiedLevels=["SLSA_BUILD_LEVEL_UNEVALUATED"]
            ),
            "verificationResult",
        ),
        (lambda s: s["predicate"].update(verifiedLevels=["SLSA_BUILD_LEVEL_3"]), "verifiedLevels"),
        (
            lambda s: s.update(
                subject=[{"name": s["subject"][0]["name"], "digest": {"gitCommit": "0" * 40}}]
            ),
            "subject",
        ),
        (lambda s: s["predicate"]["inputAttestations"].pop(), "inputAttestations"),
        (lambda s: s["predicate"]["policy"]["digest"].update(sha256="0" * 64), "policy"),
    ],
    ids=[
        "passed-over-a-fail",
        "a-level-never-checked",
        "another-commit",
        "an-input-dropped",
        "another-policy",
    ],
)
def test_a_summary_that_says_otherwise_than_the_statements_does_not_verify(
    build_bundle: BuildBundle, signing_key: SigningKey, key_pair, change, field
) -> None:
    failed = build_bundle(gates=outcomes("FAIL"))
    assert _summary(failed)["predicate"]["verificationResult"] == "FAILED"
    files = _with_summary(failed, signing_key, change)
    with pytest.raises(VerificationFailed, match=rf"\[verification summary\.{field}\]"):
        verify_files(files, load_public_key_file(key_pair.public_key), expected_rc=RC.tag)


def test_a_summary_signed_by_another_key_does_not_count(
    bundle: EvidenceBundle, other_signing_key: SigningKey, key_pair
) -> None:
    files = _with_summary(bundle, other_signing_key, lambda s: None)
    with pytest.raises(VerificationFailed, match="line 3: no signature verifies with the trusted public key"):
        verify_files(files, load_public_key_file(key_pair.public_key))
