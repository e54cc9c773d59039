"""Offline verification of an evidence bundle against a public key the auditor already trusts.

Checked in this order, stopping at the first failure and naming the file or field, one module
per family of checks:
1. `envelopes`: exactly one test-result and one provenance envelope signed by the trusted key,
   each an in-toto v1 Statement, validated against its predicate's schema (`schemas`) before
   any field is read;
2. `claims`: both statements name the same release candidate, the expected one when given, the
   bundle is stored under that RC's version, and the commit, service build and URL they sign
   say the same;
3. `subjects`: both list the same subjects, and every subject is in the bundle with every digest
   it is given, with no file left over;
4. `verdicts` and `figures`: each gate's verdict follows from its signed figures and threshold
   (SLOs with their min_samples, scan, baseline and forbidden-request gates from their counts,
   comparisons and policies), and the signed verdict, result and passed/warned/failed tests
   follow from the gates; a gate that signs no figures (an older bundle's) is named in the report;
5. `documents`: manifest.json and lineage.json (signed subjects themselves) agree with the
   signed statements: files, sizes, RC, verdict, run id, signing key, inputs.

Files may be bytes in memory or a `content.SpooledFiles`: digests are streamed, and only the
documents that are parsed are read whole, below a size cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS, ReadLimits, read_bundle
from verification_pipeline.evidence.keys import public_key_fingerprint
from verification_pipeline.evidence.layout import ATTESTATIONS, check_relative_name
from verification_pipeline.evidence.statements import SLSA_PROVENANCE_PREDICATE, TEST_RESULT_PREDICATE
from verification_pipeline.evidence.verify.claims import (
    check_commit_claims,
    check_stored_version,
    check_url,
    release_candidate,
)
from verification_pipeline.evidence.verify.documents import SignedRun, check_lineage, check_manifest
from verification_pipeline.evidence.verify.envelopes import SignedStatements, signed_statements
from verification_pipeline.evidence.verify.report import VerificationReport
from verification_pipeline.evidence.verify.subjects import check_files, signed_subjects
from verification_pipeline.evidence.verify.verdicts import check_gates, check_result
from verification_pipeline.evidence.vsa import check_vsa_statement
from verification_pipeline.textsafe import mark_verdict_words

__all__ = ["TrustedKeys", "VerificationReport", "verify_files", "verify_path"]

TrustedKeys = Ed25519PublicKey | Sequence[Ed25519PublicKey]
"""One trusted key, or a key set (`verify --key-set`): every key trusted, each named in the report."""


def verify_path(
    path: Path,
    public_key: TrustedKeys,
    *,
    expected_rc: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> VerificationReport:
    """Verify a bundle directory or `.tar.gz`."""
    read = read_bundle(path, limits)
    return verify_files(
        read.files, public_key, expected_rc=expected_rc, source=str(path), root_version=read.root_version
    )


def verify_files(
    files: Mapping[str, bytes],
    public_key: TrustedKeys,
    *,
    expected_rc: str | None = None,
    source: str = "bundle",
    root_version: str | None = None,
) -> VerificationReport:
    """Verify a bundle held as bundle-relative name -> bytes (from a directory, an archive or S3).

    `root_version`: the `<version>` of the `evidence/<version>/` the files were stored under,
    when the location says; it must be the signed version. With a key set, the bundle is
    verified with the key of the set that signed it, and the report names every key of the set.
    """
    _check_names(files, source)
    key_set: tuple[str, ...] = ()
    if not isinstance(public_key, Ed25519PublicKey):
        key_set = tuple(public_key_fingerprint(key) for key in public_key)
        public_key = signer_of(files, public_key)
    signed = signed_statements(files, public_key)
    tested, built = signed.tested, signed.built
    parameters = built.buildDefinition.externalParameters
    run_id = built.runDetails.metadata.invocationId
    rc = release_candidate(tested, parameters, expected_rc)
    check_stored_version(root_version, rc, source)
    subjects = signed_subjects(signed.test_result, signed.provenance)
    check_files(files, subjects)
    check_commit_claims(parameters, rc)
    check_url(tested, rc, run_id)
    unchecked = check_gates(tested, parameters)
    check_result(tested)
    _check_summary(signed, rc)
    sha256 = {name: digests["sha256"] for name, digests in subjects.items()}
    run = SignedRun(files, sha256, rc, run_id)
    manifest = check_manifest(run, tested.ours.verdict, tested.ours.missingFiles, public_key)
    check_lineage(run, [d.model_dump(exclude_unset=True) for d in built.buildDefinition.resolvedDependencies])
    return VerificationReport(
        source=source,
        release_candidate=rc,
        run_id=run_id,
        created_at=str(manifest.get("createdAt", "")),
        verdict=tested.ours.verdict,
        result=tested.result,
        files=len(subjects),
        missing_files=tuple(tested.ours.missingFiles),
        key_fingerprint=public_key_fingerprint(public_key),
        dev_key=manifest["signingKey"].get("devKey") is True,
        summary=signed.summary.predicate["verificationResult"] if signed.summary is not None else None,
        key_set=key_set,
        taken_as_signed=unchecked,
    )


def _check_names(files: Mapping[str, bytes], source: str) -> None:
    """Every name a plain relative path inside the bundle (no `..`, no absolute path)."""
    for name in files:
        check_relative_name(
            name, lambda message: VerificationFailed(mark_verdict_words(f"{source}: {message}"))
        )


def _check_summary(signed: SignedStatements, rc: Mapping[str, str]) -> None:
    """The verification summary (VSA), where the bundle has one: it covers the test result and the
    provenance as signed, and states the same RC, verdict and configuration."""
    if signed.summary is None:
        return
    check_vsa_statement(
        [s.model_dump() for s in signed.summary.subject],
        signed.summary.predicate,
        [signed.payload_sha256[kind] for kind in (TEST_RESULT_PREDICATE, SLSA_PROVENANCE_PREDICATE)],
        rc,
        signed.tested.ours.verdict,
        signed.test_result.predicate["configuration"],
    )


def signer_of(files: Mapping[str, bytes], keys: Sequence[Ed25519PublicKey]) -> Ed25519PublicKey:
    """The key of a key set whose signatures the bundle's statements carry (the first such key)."""
    first: VerificationFailed | None = None
    for key in keys:
        try:
            signed_statements(files, key)
        except VerificationFailed as exc:
            first = first or exc
            continue
        return key
    listed = ", ".join(public_key_fingerprint(key) for key in keys) or "none"
    raise VerificationFailed(
        f"{ATTESTATIONS}: signed by none of the key set's keys ({listed})"
        + (f"; with the first: {first.message}" if first is not None else ""),
        hint="the bundle was signed by a key you do not trust, or changed after signing",
    )
