"""Offline verification of an evidence bundle against a public key the auditor already trusts.

Checked in this order, stopping at the first failure and naming the file or field:
1. `attestations.intoto.jsonl` holds exactly one test-result and one provenance envelope signed
   by the trusted key over its DSSE PAE (keyid is ignored), each an in-toto v1 Statement. As the
   in-toto bundle spec says, blank lines and attestations of other predicate types are ignored;
2. each predicate holds the fields its schema requires, and ours (the RC with a non-empty commit);
3. both statements name the same release candidate, the expected one when given, and the bundle
   is stored under that RC's version;
4. both statements list the same subjects, and every subject is in the bundle with its digest,
   with no file left over;
5. the signed verdict, result, gates and passed/warned/failed tests agree, as the builder derives
   them from the gates and the missing files;
6. manifest.json and lineage.json (signed subjects themselves) agree with the signed statements:
   files, sizes, RC, verdict, run id, signing key, inputs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import ConfigError, PipelineError, VerificationFailed
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS, ReadLimits, read_bundle
from verification_pipeline.evidence.dsse import INTOTO_PAYLOAD_TYPE, verify_envelope
from verification_pipeline.evidence.keys import public_key_fingerprint
from verification_pipeline.evidence.layout import (
    ATTESTATIONS,
    LINEAGE,
    MANIFEST,
    check_relative_name,
    expected_files,
    sha256_hex,
)
from verification_pipeline.evidence.statements import (
    COMMIT_FROM_CHECKOUT,
    COMMIT_FROM_TAG,
    EXTENSION,
    PREDICATE_TYPES,
    RESULT_OF_VERDICT,
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    VERIFICATION_SUMMARY_PREDICATE,
    GateOutcome,
    ReleaseCandidate,
    build_test_result_statement,
)
from verification_pipeline.evidence.vsa import check_vsa_statement
from verification_pipeline.jsonio import decode_json, shown
from verification_pipeline.verdict import Verdict

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEST_RESULT = f"{ATTESTATIONS} [test-result predicate"
_PROVENANCE = f"{ATTESTATIONS} [provenance predicate"


@dataclass(frozen=True)
class VerificationReport:
    """What a verified bundle says, for the CLI and for `release_decision`."""

    source: str
    release_candidate: Mapping[str, str]
    """The signed RC: tag, commit (never empty), commitSource, version."""
    run_id: str
    created_at: str
    verdict: str
    result: str
    files: int
    missing_files: tuple[str, ...]
    key_fingerprint: str
    dev_key: bool

    @property
    def commit(self) -> str:
        return self.release_candidate["commit"]

    @property
    def commit_source_text(self) -> str:
        return _COMMIT_SOURCE_TEXT.get(self.release_candidate.get("commitSource", ""), "?")

    def summary_lines(self) -> list[str]:
        """The signed verdict first (what a reader needs), then where it comes from."""
        lines = [
            f"signed verdict: {self.verdict}",
            f"verified: {self.source}",
            f"  release candidate: {self.release_candidate.get('tag')} (commit {self.commit}, from the {self.commit_source_text})",
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


_COMMIT_SOURCE_TEXT = {
    COMMIT_FROM_TAG: "RC's git tag",
    COMMIT_FROM_CHECKOUT: "checkout's HEAD; the RC is not a git tag",
}


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
    ours = _check_test_result_predicate(test_result["predicate"])
    build = _check_provenance_predicate(provenance["predicate"])
    rc = _release_candidate(ours["releaseCandidate"], build["externalParameters"], expected_rc)
    if root_version is not None and root_version != rc["version"]:
        raise VerificationFailed(
            f"{source}: stored under evidence/{root_version}/ but signed for version {rc['version']!r}",
            hint="the bundle was moved or renamed after signing; do not trust where it claims to belong",
        )
    signed = _subjects(test_result, TEST_RESULT_PREDICATE)
    if _subjects(provenance, SLSA_PROVENANCE_PREDICATE) != signed:
        raise VerificationFailed(f"{ATTESTATIONS}: the two statements list different subjects")
    _check_files_against_subjects(files, signed)
    _check_result(test_result, ours)
    check_vsa_statement(
        statements[VERIFICATION_SUMMARY_PREDICATE],
        (test_result, provenance),
        rc,
        ours["verdict"],
        test_result["predicate"]["configuration"],
    )
    run_id = provenance["predicate"]["runDetails"]["metadata"]["invocationId"]
    manifest = _check_manifest(files, signed, rc, ours, run_id, public_key)
    _check_lineage(files, signed, rc, run_id, build.get("resolvedDependencies", []))
    key = manifest["signingKey"]
    return VerificationReport(
        source=source,
        release_candidate=rc,
        run_id=run_id,
        created_at=str(manifest.get("createdAt", "")),
        verdict=ours["verdict"],
        result=test_result["predicate"]["result"],
        files=len(signed),
        missing_files=tuple(ours["missingFiles"]),
        key_fingerprint=public_key_fingerprint(public_key),
        dev_key=key.get("devKey") is True,
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
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue  # the in-toto bundle spec: consumers ignore blank lines
        where = f"{ATTESTATIONS} line {number}"
        envelope = _json(line, where, "a DSSE envelope")
        try:
            payload = verify_envelope(envelope, public_key, where=where)
        except VerificationFailed:
            if _foreign_attestation(envelope):
                continue  # another producer's attestation, of a type we do not sign: not ours to judge
            raise
        statement = _json(payload, f"{where} [payload]", "an in-toto Statement")
        if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
            raise VerificationFailed(f"{where} [_type]: not an in-toto Statement v1 ({STATEMENT_TYPE})")
        predicate_type = statement.get("predicateType")
        if predicate_type not in PREDICATE_TYPES:
            continue  # signed by the trusted key, but a predicate this bundle does not rely on
        if predicate_type in statements:
            raise VerificationFailed(f"{where} [predicateType]: a second {predicate_type} statement")
        if not isinstance(statement.get("predicate"), dict):
            raise VerificationFailed(f"{where} [predicate]: missing or not an object")
        statements[predicate_type] = statement
    for predicate_type in PREDICATE_TYPES:
        if predicate_type not in statements:
            raise VerificationFailed(f"{ATTESTATIONS}: no signed {predicate_type} statement")
    return statements


def _foreign_attestation(envelope: object) -> bool:
    """An envelope that (unverified) says it holds a statement of a predicate type we do not sign.

    Reading the unverified payload only decides whether to skip the envelope; nothing from it is
    trusted. One that claims to be ours, or cannot be read, still fails.
    """
    if not isinstance(envelope, Mapping) or envelope.get("payloadType") != INTOTO_PAYLOAD_TYPE:
        return False
    try:
        statement = json.loads(base64.b64decode(str(envelope.get("payload")), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return False
    return (
        isinstance(statement, dict)
        and isinstance(statement.get("predicateType"), str)
        and statement["predicateType"] not in PREDICATE_TYPES
    )


def _check_test_result_predicate(predicate: Mapping[str, Any]) -> Mapping[str, Any]:
    """The test-result v0.1 fields, and our extension with the RC, verdict, gates and missing files."""
    if not isinstance(predicate.get("result"), str):
        raise VerificationFailed(f"{_TEST_RESULT}.result]: missing or not a string")
    _descriptors(predicate.get("configuration"), f"{_TEST_RESULT}.configuration]")
    for field in ("passedTests", "warnedTests", "failedTests"):
        _strings(predicate.get(field, []), f"{_TEST_RESULT}.{field}]")
    ours = predicate.get(EXTENSION)
    where = f"{_TEST_RESULT}.{EXTENSION}"
    if not isinstance(ours, Mapping):
        raise VerificationFailed(f"{where}]: missing; not a bundle this pipeline signed")
    verdict = ours.get("verdict")
    if not isinstance(verdict, str) or verdict not in RESULT_OF_VERDICT:
        raise VerificationFailed(
            f"{where}.verdict]: {shown(verdict)} is not one of {', '.join(RESULT_OF_VERDICT)}"
        )
    gates = ours.get("gates")
    if not isinstance(gates, list) or not all(
        isinstance(g, Mapping)
        and isinstance(g.get("name"), str)
        and isinstance(g.get("verdict"), str)
        and g["verdict"] in Verdict.__members__
        for g in gates
    ):
        raise VerificationFailed(f"{where}.gates]: not a list of {{name, verdict}} gates")
    _strings(ours.get("missingFiles"), f"{where}.missingFiles]")
    return ours


def _check_provenance_predicate(predicate: Mapping[str, Any]) -> Mapping[str, Any]:
    """SLSA provenance v1's required fields; returns buildDefinition."""
    build = predicate.get("buildDefinition")
    if not isinstance(build, Mapping):
        raise VerificationFailed(f"{_PROVENANCE}.buildDefinition]: missing or not an object")
    if not isinstance(build.get("buildType"), str) or not build["buildType"]:
        raise VerificationFailed(f"{_PROVENANCE}.buildDefinition.buildType]: missing")
    if not isinstance(build.get("externalParameters"), Mapping):
        raise VerificationFailed(f"{_PROVENANCE}.buildDefinition.externalParameters]: missing")
    if not isinstance(build.get("internalParameters", {}), Mapping):
        raise VerificationFailed(f"{_PROVENANCE}.buildDefinition.internalParameters]: not an object")
    _descriptors(
        build.get("resolvedDependencies", []), f"{_PROVENANCE}.buildDefinition.resolvedDependencies]"
    )
    run = predicate.get("runDetails")
    builder = run.get("builder") if isinstance(run, Mapping) else None
    metadata = run.get("metadata") if isinstance(run, Mapping) else None
    if not isinstance(builder, Mapping) or not isinstance(builder.get("id"), str) or not builder["id"]:
        raise VerificationFailed(f"{_PROVENANCE}.runDetails.builder.id]: missing")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("invocationId"), str):
        raise VerificationFailed(f"{_PROVENANCE}.runDetails.metadata.invocationId]: missing")
    return build


def _descriptors(value: object, where: str) -> None:
    """ResourceDescriptors: objects with a string name and a uri or a {algorithm: hex} digest."""
    if not isinstance(value, list):
        raise VerificationFailed(f"{where}: missing or not a list of resource descriptors")
    for index, item in enumerate(value):
        digest = item.get("digest") if isinstance(item, Mapping) else None
        ok = (
            isinstance(item, Mapping)
            and isinstance(item.get("name", ""), str)
            and (isinstance(item.get("uri"), str) or isinstance(digest, Mapping))
            and (
                digest is None
                or (isinstance(digest, Mapping) and all(isinstance(v, str) for v in digest.values()))
            )
        )
        if not ok:
            raise VerificationFailed(f"{where}[{index}]: not a resource descriptor (a uri or a digest)")


def _strings(value: object, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise VerificationFailed(f"{where}: not a list of strings")


def _release_candidate(
    tested: object, external_parameters: Mapping[str, Any], expected_rc: str | None
) -> dict[str, str]:
    built = external_parameters.get("releaseCandidate")
    for where, value in (
        (f"{_TEST_RESULT}.{EXTENSION}.releaseCandidate]", tested),
        (f"{_PROVENANCE}.buildDefinition.externalParameters.releaseCandidate]", built),
    ):
        fields = ("tag", "commit", "commitSource", "version")
        if not isinstance(value, Mapping) or sorted(value) != sorted(fields):
            raise VerificationFailed(f"{where}: needs exactly tag, commit, commitSource, version")
        if not all(isinstance(value[f], str) for f in fields):
            raise VerificationFailed(f"{where}: tag, commit, commitSource and version must be strings")
        try:
            ReleaseCandidate(**_rc_fields(value))
        except ConfigError as exc:
            raise VerificationFailed(
                f"{where}: {exc.message}", hint="promotion tags the signed commit, so it must be there"
            ) from None
    assert isinstance(tested, Mapping) and isinstance(built, Mapping)  # checked just above
    if tested != built:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate]: the test result is for {tested.get('tag')!r} "
            f"(commit {tested.get('commit')}) but the provenance is for {built.get('tag')!r} "
            f"(commit {built.get('commit')})",
            hint="an attestation from another release candidate was swapped in",
        )
    if expected_rc is not None and tested["tag"] != expected_rc:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate.tag]: signed for {tested['tag']!r}, not {expected_rc!r}",
            hint="this is the evidence of another release candidate",
        )
    return {str(k): str(v) for k, v in tested.items()}


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


def _check_result(statement: Mapping[str, Any], ours: Mapping[str, Any]) -> None:
    """The signed verdict, result and test lists are what the builder derives from the signed gates
    and missing files: a PASS cannot sit beside failed tests or failing gates."""
    predicate = statement["predicate"]
    verdict, result = ours["verdict"], predicate["result"]
    if result != RESULT_OF_VERDICT[verdict]:
        raise VerificationFailed(
            f"{_TEST_RESULT}.result]: {shown(result)} contradicts the verdict "
            f"{verdict}, which is signed as {RESULT_OF_VERDICT[verdict]!r}",
            hint="the producer contradicts itself; do not trust this bundle's verdict",
        )
    try:
        expected = build_test_result_statement(
            [],
            ReleaseCandidate(**_rc_fields(ours["releaseCandidate"])),
            [GateOutcome(g["name"], Verdict(g["verdict"])) for g in ours["gates"]],
            missing_files=ours["missingFiles"],
            configuration=(),
        )["predicate"]
    except (PipelineError, ValueError, KeyError) as exc:
        raise VerificationFailed(f"{_TEST_RESULT}.{EXTENSION}.gates]: cannot be judged ({exc})") from None
    if expected[EXTENSION]["verdict"] != verdict:
        raise VerificationFailed(
            f"{_TEST_RESULT}.{EXTENSION}.verdict]: {verdict} although its gates and missing files make it "
            f"{expected[EXTENSION]['verdict']}",
            hint="the producer contradicts itself; do not trust this bundle's verdict",
        )
    for field in ("passedTests", "warnedTests", "failedTests"):
        if predicate.get(field, []) != expected[field]:
            raise VerificationFailed(
                f"{_TEST_RESULT}.{field}]: {shown(predicate.get(field))} does not follow from the signed gates "
                f"(expected {expected[field]})",
                hint="the producer contradicts itself; do not trust this bundle's verdict",
            )


def _rc_fields(rc: Mapping[str, str]) -> dict[str, str]:
    return {
        "tag": rc["tag"],
        "commit": rc["commit"],
        "version": rc["version"],
        "commit_source": rc["commitSource"],
    }


def _check_manifest(
    files: Mapping[str, bytes],
    signed: Mapping[str, str],
    rc: Mapping[str, str],
    ours: Mapping[str, Any],
    run_id: str,
    public_key: Ed25519PublicKey,
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
            f"{MANIFEST} [files]: not a list of {{name, sha256, size}} objects with unique names"
        )
    if {n: d for n, (d, _) in listed.items()} != {n: d for n, d in signed.items() if n != MANIFEST}:
        raise VerificationFailed(f"{MANIFEST} [files]: does not list exactly the signed subjects")
    for name, (_, size) in sorted(listed.items()):
        if size != len(files[name]):
            raise VerificationFailed(
                f"{MANIFEST} [files.{name}.size]: {shown(size)}, but the signed file is {len(files[name])} bytes"
            )
    if manifest.get("releaseCandidate") != rc:
        raise VerificationFailed(f"{MANIFEST} [releaseCandidate]: differs from the signed release candidate")
    if manifest.get("verdict") != ours["verdict"]:
        raise VerificationFailed(f"{MANIFEST} [verdict]: differs from the signed verdict")
    if manifest.get("runId") != run_id:
        raise VerificationFailed(
            f"{MANIFEST} [runId]: {shown(manifest.get('runId'))} is not the signed invocationId {run_id!r}"
        )
    key = manifest.get("signingKey")
    fingerprint = public_key_fingerprint(public_key)
    if not isinstance(key, dict) or key.get("fingerprint") != fingerprint:
        raise VerificationFailed(
            f"{MANIFEST} [signingKey.fingerprint]: does not name the key that signed the bundle ({fingerprint})"
        )
    if not isinstance(key.get("devKey"), bool):
        raise VerificationFailed(f"{MANIFEST} [signingKey.devKey]: missing or not true/false")
    absent = [n for n in expected_files(rc["version"]) if n not in signed]
    declared = {
        f"{MANIFEST} [missingFiles]": manifest.get("missingFiles"),
        f"{_TEST_RESULT}.{EXTENSION}.missingFiles]": ours["missingFiles"],
    }
    for where, value in declared.items():
        if value != absent:
            raise VerificationFailed(
                f"{where}: does not name exactly the expected files that are absent: {absent}"
            )
    if absent and ours["verdict"] == "PASS":
        raise VerificationFailed(f"{ATTESTATIONS} [verdict]: PASS although evidence is missing: {absent}")
    return manifest


def _check_lineage(
    files: Mapping[str, bytes],
    signed: Mapping[str, str],
    rc: Mapping[str, str],
    run_id: str,
    dependencies: Sequence[Any],
) -> None:
    """lineage.json says what the signed statements say: same RC, run, inputs, and output digests."""
    if LINEAGE not in signed:
        raise VerificationFailed(f"{LINEAGE}: not a signed subject")
    lineage = _json(files[LINEAGE], LINEAGE, "the bundle lineage")
    if not isinstance(lineage, dict):
        raise VerificationFailed(f"{LINEAGE}: not a JSON object")
    if lineage.get("releaseCandidate") != rc:
        raise VerificationFailed(f"{LINEAGE} [releaseCandidate]: differs from the signed release candidate")
    if lineage.get("runId") != run_id:
        raise VerificationFailed(
            f"{LINEAGE} [runId]: {shown(lineage.get('runId'))} is not the signed invocationId {run_id!r}"
        )
    if lineage.get("inputs") != list(dependencies):
        raise VerificationFailed(f"{LINEAGE} [inputs]: differ from the signed resolvedDependencies")
    outputs = lineage.get("outputs")
    if not isinstance(outputs, list) or not all(
        isinstance(o, Mapping) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise VerificationFailed(f"{LINEAGE} [outputs]: not a list of objects with a name")
    named = {o.get("name"): o for o in outputs}
    evidence = {n for n in signed if n not in (LINEAGE, MANIFEST)}
    if set(named) != evidence or len(named) != len(outputs):
        raise VerificationFailed(f"{LINEAGE} [outputs]: do not name exactly the signed evidence files")
    for name in sorted(evidence):
        entry = named[name]
        if entry.get("sha256") != signed[name] or entry.get("size") != len(files[name]):
            raise VerificationFailed(
                f"{LINEAGE} [outputs.{name}]: sha256 or size differs from the signed file"
            )


def _listed_files(entries: object) -> dict[str, tuple[str, object]] | None:
    """manifest.json's `files` as name -> (sha256, size); None unless a list of such objects."""
    if not isinstance(entries, list):
        return None
    listed: dict[str, tuple[str, object]] = {}
    for entry in entries:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        sha = entry.get("sha256") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not isinstance(sha, str) or name in listed:
            return None
        listed[name] = (sha, entry.get("size"))
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
