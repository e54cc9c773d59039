"""A bundle assembled and signed by the pipeline's code checks out with other people's code."""

from __future__ import annotations

import pytest

from tests.evidence.interop import (
    PROVENANCE,
    TEST_RESULT,
    VSA,
    absolute_local_paths,
    statements_verified_by_securesystemslib,
    subjects_match_hashlib,
    validate_with_in_toto_attestation,
)
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.keys import KeyPairFiles
from verification_pipeline.paths import PACKAGE_DIR, portable_uri


def test_securesystemslib_verifies_both_envelopes_finding_the_signature_by_its_default_keyid(
    bundle: EvidenceBundle, key_pair: KeyPairFiles
) -> None:
    statements = statements_verified_by_securesystemslib(bundle.files, key_pair.public_key.read_bytes())
    assert set(statements) == {TEST_RESULT, PROVENANCE, VSA}


def test_securesystemslib_refuses_the_bundle_for_another_key(
    bundle: EvidenceBundle, other_key_pair: KeyPairFiles
) -> None:
    from securesystemslib.exceptions import VerificationError

    with pytest.raises(VerificationError):
        statements_verified_by_securesystemslib(bundle.files, other_key_pair.public_key.read_bytes())


def test_in_toto_attestation_validates_both_statements_and_their_predicates(
    bundle: EvidenceBundle, key_pair: KeyPairFiles
) -> None:
    for statement in statements_verified_by_securesystemslib(
        bundle.files, key_pair.public_key.read_bytes()
    ).values():
        validate_with_in_toto_attestation(statement)
        subjects_match_hashlib(statement, bundle.files)


def test_the_walk_finds_absolute_paths_wherever_they_hide() -> None:
    found = list(
        absolute_local_paths({"a": ["ok", {"uri": "/home/me/slos.yaml"}], "/tmp/x": "file:///etc/passwd"})
    )
    assert len(found) == 3


def test_no_signed_statement_holds_an_absolute_local_path(
    bundle: EvidenceBundle, key_pair: KeyPairFiles
) -> None:
    statements = statements_verified_by_securesystemslib(bundle.files, key_pair.public_key.read_bytes())
    assert [p for s in statements.values() for p in absolute_local_paths(s)] == []


def test_a_packaged_file_gets_a_package_uri_and_a_local_path_none(tmp_path) -> None:
    slos = PACKAGE_DIR / "slo" / "slos.yaml"
    assert portable_uri(str(slos)).startswith("pkg:pypi/verification-pipeline@")
    assert portable_uri(str(slos)).endswith("#verification_pipeline/slo/slos.yaml")
    assert portable_uri(str(tmp_path / "slos.yaml")) is None
    assert portable_uri("s3://bucket/key") == "s3://bucket/key"


def test_the_verification_summary_validates_against_the_published_schema_and_verifies_with_securesystemslib(
    bundle: EvidenceBundle, build_bundle, key_pair: KeyPairFiles
) -> None:
    from tests.evidence.conftest import outcomes
    from tests.evidence.interop import validate_vsa

    for built, result in ((bundle, "PASSED"), (build_bundle(gates=outcomes("FAIL")), "FAILED")):
        # securesystemslib's DSSE verifies the envelope with the bundle's key (its own default keyid)
        summary = statements_verified_by_securesystemslib(built.files, key_pair.public_key.read_bytes())[VSA]
        validate_vsa(summary)
        assert summary["predicate"]["verificationResult"] == result


def test_the_schema_check_refuses_a_summary_the_spec_does_not_allow(bundle: EvidenceBundle, key_pair) -> None:
    import jsonschema

    from tests.evidence.interop import validate_vsa

    summary = statements_verified_by_securesystemslib(bundle.files, key_pair.public_key.read_bytes())[VSA]
    for broken in (
        {**summary["predicate"], "verificationResult": "OK"},
        {k: v for k, v in summary["predicate"].items() if k != "policy"},
        {**summary["predicate"], "verifiedLevels": ["SLSA_BUILD_LEVEL_THREE"]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_vsa({**summary, "predicate": broken})
