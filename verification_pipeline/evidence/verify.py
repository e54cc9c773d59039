"""Offline verification of an evidence bundle against a public key the auditor already trusts.

Checked in this order, stopping at the first failure and naming the file or field:
1. `attestations.intoto.jsonl` holds exactly the two envelopes (test result, provenance), each
   signed by the trusted key over its DSSE PAE (keyid is ignored) and holding an in-toto v1
   Statement;
2. both statements name the same release candidate, and it is the expected one when given;
3. both statements list the same subjects, and every subject is in the bundle with its digest,
   with no file left over;
4. the test result's `result` is the one its verdict is signed with (PASS -> PASSED, ...);
5. manifest.json (itself a signed subject) agrees with the signed statements.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import PipelineError, VerificationFailed
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS, ReadLimits, read_bundle
from verification_pipeline.evidence.dsse import verify_envelope
from verification_pipeline.evidence.keys import public_key_fingerprint
from verification_pipeline.evidence.layout import (
    ATTESTATIONS,
    MANIFEST,
    check_relative_name,
    expected_files,
    sha256_hex,
)
from verification_pipeline.evidence.statements import (
    PREDICATE_TYPES,
    RESULT_OF_VERDICT,
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    signed_release_candidate,
)
from verification_pipeline.jsonio import decode_json, shown

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class VerificationReport:
    """What a verified bundle says, for the CLI and for `release_decision`."""

    source: str
    release_candidate: Mapping[str, str]
    run_id: str
    created_at: str
    verdict: str
    result: str
    files: int
    missing_files: tuple[str, ...]
    key_fingerprint: str
    dev_key: bool

    def summary_lines(self) -> list[str]:
        lines = [
            f"verified: {self.source}",
            f"  release candidate: {self.release_candidate.get('tag')} (commit {self.release_candidate.get('commit')})",
            f"  run id:            {self.run_id}",
            f"  created:           {self.created_at}",
            f"  verdict:           {self.verdict} (test-result {self.result})",
            f"  files:             {self.files} signed subjects",
            f"  signed by:         {self.key_fingerprint}",
        ]
        if self.missing_files:
            lines.append(f"  missing evidence:  {', '.join(self.missing_files)}")
        if self.dev_key:
            lines.append(
                "  WARNING: signed with a DEV key; it proves nothing to anyone who does not hold that key"
            )
        return lines


def verify_path(
    path: Path,
    public_key: Ed25519PublicKey,
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
    public_key: Ed25519PublicKey,
    *,
    expected_rc: str | None = None,
    source: str = "bundle",
    root_version: str | None = None,
) -> VerificationReport:
    """Verify a bundle held as bundle-relative name -> bytes (from a directory, an archive or S3).

    `root_version`: the `<version>` of the `evidence/<version>/` the files were stored under,
    when the location says; it must be the signed version.
    """
    for name in files:
        check_relative_name(name, lambda message: VerificationFailed(f"{source}: {message}"))
    statements = _verified_statements(files, public_key)
    test_result, provenance = statements[TEST_RESULT_PREDICATE], statements[SLSA_PROVENANCE_PREDICATE]
    rc = _release_candidate(test_result, provenance, expected_rc)
    if root_version is not None and root_version != rc.get("version"):
        raise VerificationFailed(
            f"{source}: stored under evidence/{root_version}/ but signed for version {rc.get('version')!r}",
            hint="the bundle was moved or renamed after signing; do not trust where it claims to belong",
        )
    signed = _subjects(test_result, TEST_RESULT_PREDICATE)
    if _subjects(provenance, SLSA_PROVENANCE_PREDICATE) != signed:
        raise VerificationFailed(f"{ATTESTATIONS}: the two statements list different subjects")
    _check_files_against_subjects(files, signed)
    predicate = test_result["predicate"]
    _check_result(predicate)
    manifest = _check_manifest(files, signed, rc, predicate)
    key = manifest.get("signingKey") if isinstance(manifest.get("signingKey"), Mapping) else {}
    return VerificationReport(
        source=source,
        release_candidate=rc,
        run_id=str(manifest.get("runId", "")),
        created_at=str(manifest.get("createdAt", "")),
        verdict=str(predicate.get("verdict")),
        result=str(predicate.get("result")),
        files=len(signed),
        missing_files=tuple(predicate.get("missingFiles") or ()),
        key_fingerprint=public_key_fingerprint(public_key),
        dev_key=bool(key.get("devKey")),
    )


def _verified_statements(
    files: Mapping[str, bytes], public_key: Ed25519PublicKey
) -> dict[str, dict[str, Any]]:
    data = files.get(ATTESTATIONS)
    if data is None:
        raise VerificationFailed(
            f"{ATTESTATIONS}: missing; the bundle is unsigned or was not completely written",
        )
    statements: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        where = f"{ATTESTATIONS} line {number}"
        envelope = _json(line, where, "a DSSE envelope")
        statement = _json(
            verify_envelope(envelope, public_key, where=where), f"{where} [payload]", "an in-toto Statement"
        )
        if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
            raise VerificationFailed(f"{where} [_type]: not an in-toto Statement v1 ({STATEMENT_TYPE})")
        predicate_type = statement.get("predicateType")
        if predicate_type not in PREDICATE_TYPES:
            raise VerificationFailed(
                f"{where} [predicateType]: {predicate_type!r} is not one this bundle signs"
            )
        if predicate_type in statements:
            raise VerificationFailed(f"{where} [predicateType]: a second {predicate_type} statement")
        if not isinstance(statement.get("predicate"), dict):
            raise VerificationFailed(f"{where} [predicate]: missing or not an object")
        statements[predicate_type] = statement
    for predicate_type in PREDICATE_TYPES:
        if predicate_type not in statements:
            raise VerificationFailed(f"{ATTESTATIONS}: no signed {predicate_type} statement")
    return statements


def _release_candidate(
    test_result: Mapping[str, Any], provenance: Mapping[str, Any], expected_rc: str | None
) -> dict[str, str]:
    tested = signed_release_candidate(test_result)
    built = signed_release_candidate(provenance)
    if not isinstance(tested, dict) or not isinstance(tested.get("tag"), str):
        raise VerificationFailed(f"{ATTESTATIONS} [test-result predicate.releaseCandidate.tag]: missing")
    if not isinstance(built, dict) or not isinstance(built.get("tag"), str):
        raise VerificationFailed(
            f"{ATTESTATIONS} [provenance buildDefinition.externalParameters.releaseCandidate.tag]: missing"
        )
    if tested != built:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate]: the test result is for {tested.get('tag')!r} "
            f"but the provenance is for {built.get('tag')!r}",
            hint="an attestation from another release candidate was swapped in",
        )
    if expected_rc is not None and tested["tag"] != expected_rc:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate.tag]: signed for {tested['tag']!r}, not {expected_rc!r}",
            hint="this is the evidence of another release candidate",
        )
    return tested


def _subjects(statement: Mapping[str, Any], predicate_type: str) -> dict[str, str]:
    where = f"{ATTESTATIONS} [{predicate_type} subject]"
    entries = statement.get("subject")
    if not isinstance(entries, list) or not entries:
        raise VerificationFailed(f"{where}: missing or empty")
    signed: dict[str, str] = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        digest = entry.get("digest") if isinstance(entry, Mapping) else None
        sha = digest.get("sha256") if isinstance(digest, Mapping) else None
        if not isinstance(name, str) or not isinstance(sha, str) or not _SHA256.match(sha):
            raise VerificationFailed(f"{where}: each subject needs a name and a sha256 hex digest")
        check_relative_name(name, lambda message: VerificationFailed(f"{where}: {message}"))
        if name in signed:
            raise VerificationFailed(f"{where}: {name} is listed twice")
        signed[name] = sha
    return signed


def _check_files_against_subjects(files: Mapping[str, bytes], signed: Mapping[str, str]) -> None:
    for name in sorted(signed):
        if name not in files:
            raise VerificationFailed(f"{name}: missing from the bundle, but it is a signed subject")
        actual = sha256_hex(files[name])
        if actual != signed[name]:
            raise VerificationFailed(
                f"{name}: sha256 {actual[:16]}… does not match the signed subject {signed[name][:16]}…",
                hint="the file was changed after the bundle was signed",
            )
    for name in sorted(set(files) - set(signed) - {ATTESTATIONS}):
        raise VerificationFailed(f"{name}: extra file, not a subject of the signed statements")


def _check_result(predicate: Mapping[str, Any]) -> None:
    """The signed test-result `result` says what the signed verdict says (as the builder writes them)."""
    verdict, result = predicate.get("verdict"), predicate.get("result")
    expected = RESULT_OF_VERDICT.get(verdict) if isinstance(verdict, str) else None
    if expected is None:
        raise VerificationFailed(
            f"{ATTESTATIONS} [test-result predicate.verdict]: {shown(verdict)} is not one of "
            f"{', '.join(RESULT_OF_VERDICT)}"
        )
    if result != expected:
        raise VerificationFailed(
            f"{ATTESTATIONS} [test-result predicate.result]: {shown(result)} contradicts the verdict "
            f"{verdict}, which is signed as {expected!r}",
            hint="the producer contradicts itself; do not trust this bundle's verdict",
        )


def _check_manifest(
    files: Mapping[str, bytes], signed: Mapping[str, str], rc: Mapping[str, str], predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """The manifest is covered by its digest; these checks catch a producer that contradicts itself."""
    if MANIFEST not in signed:
        raise VerificationFailed(f"{MANIFEST}: not a signed subject")
    manifest = _json(files[MANIFEST], MANIFEST, "the bundle manifest")
    if not isinstance(manifest, dict):
        raise VerificationFailed(f"{MANIFEST}: not a JSON object")
    listed = _listed_files(manifest.get("files"))
    if listed is None:
        raise VerificationFailed(
            f"{MANIFEST} [files]: not a list of {{name, sha256}} objects with string values and unique names"
        )
    if listed != {n: d for n, d in signed.items() if n != MANIFEST}:
        raise VerificationFailed(f"{MANIFEST} [files]: does not list exactly the signed subjects")
    if manifest.get("releaseCandidate") != rc:
        raise VerificationFailed(f"{MANIFEST} [releaseCandidate]: differs from the signed release candidate")
    if manifest.get("verdict") != predicate.get("verdict"):
        raise VerificationFailed(f"{MANIFEST} [verdict]: differs from the signed verdict")
    absent = [n for n in expected_files(str(rc.get("version"))) if n not in signed]
    declared = {
        f"{MANIFEST} [missingFiles]": manifest.get("missingFiles"),
        f"{ATTESTATIONS} [missingFiles]": predicate.get("missingFiles"),
    }
    for where, value in declared.items():
        if value != absent:
            raise VerificationFailed(
                f"{where}: does not name exactly the expected files that are absent: {absent}"
            )
    if absent and predicate.get("verdict") == "PASS":
        raise VerificationFailed(f"{ATTESTATIONS} [verdict]: PASS although evidence is missing: {absent}")
    return manifest


def _listed_files(entries: object) -> dict[str, str] | None:
    """manifest.json's `files` as name -> sha256; None unless it is a list of {name, sha256} strings."""
    if not isinstance(entries, list):
        return None
    listed: dict[str, str] = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        sha = entry.get("sha256") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not isinstance(sha, str) or name in listed:
            return None
        listed[name] = sha
    return listed


def _json(data: bytes, where: str, expected: str) -> Any:
    def fail(
        message: str, *, line: int | None = None, field: str | None = None, hint: str | None = None
    ) -> PipelineError:
        at_line = f" (line {line})" if line is not None and b"\n" in data.strip() else ""
        return VerificationFailed(f"{where}{f' [{field}]' if field else ''}: {message}{at_line}", hint=hint)

    if not data.strip():
        raise VerificationFailed(f"{where}: empty; expected {expected}")
    return decode_json(data, where, expected=expected, fail=fail)
