"""Check 6: manifest.json and lineage.json (signed subjects themselves) agree with the signed
statements: files, sizes, RC, verdict, run id, signing key, inputs.

Both are covered by their digests; these checks catch a producer that contradicts itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import PipelineError, VerificationFailed
from verification_pipeline.evidence.content import file_size, read_document
from verification_pipeline.evidence.keys import public_key_fingerprint
from verification_pipeline.evidence.layout import ATTESTATIONS, LINEAGE, MANIFEST, expected_files
from verification_pipeline.jsonio import decode_json, shown


@dataclass(frozen=True)
class SignedRun:
    """What the statements sign, which the manifest and the lineage must say again."""

    files: Mapping[str, bytes]
    signed: Mapping[str, str]
    """Each signed subject's sha256."""
    rc: Mapping[str, str]
    run_id: str


def check_manifest(
    run: SignedRun, verdict: str, missing_files: Sequence[str], public_key: Ed25519PublicKey
) -> dict[str, Any]:
    """The manifest says what the statements sign; returns it (for its key and creation time)."""
    files, signed = run.files, run.signed
    manifest = _signed_object(run, MANIFEST, "the bundle manifest")
    listed = _listed_files(manifest.get("files"))
    if listed is None:
        raise VerificationFailed(
            f"{MANIFEST} [files]: not a list of {{name, sha256, size}} objects with unique names"
        )
    if {n: d for n, (d, _) in listed.items()} != {n: d for n, d in signed.items() if n != MANIFEST}:
        raise VerificationFailed(f"{MANIFEST} [files]: does not list exactly the signed subjects")
    for name, (_, size) in sorted(listed.items()):
        if size != file_size(files, name):
            raise VerificationFailed(
                f"{MANIFEST} [files.{name}.size]: {shown(size)}, but the signed file is {file_size(files, name)} bytes"
            )
    _check_same_run(manifest, MANIFEST, run)
    if manifest.get("verdict") != verdict:
        raise VerificationFailed(f"{MANIFEST} [verdict]: differs from the signed verdict")
    _check_signing_key(manifest.get("signingKey"), public_key)
    _check_missing(signed, run.rc["version"], verdict, {
        f"{MANIFEST} [missingFiles]": manifest.get("missingFiles"),
        f"{ATTESTATIONS} [test-result predicate.missingFiles]": list(missing_files),
    })  # fmt: skip
    return manifest


def _check_signing_key(key: object, public_key: Ed25519PublicKey) -> None:
    fingerprint = public_key_fingerprint(public_key)
    if not isinstance(key, dict) or key.get("fingerprint") != fingerprint:
        raise VerificationFailed(
            f"{MANIFEST} [signingKey.fingerprint]: does not name the key that signed the bundle ({fingerprint})"
        )
    if not isinstance(key.get("devKey"), bool):
        raise VerificationFailed(f"{MANIFEST} [signingKey.devKey]: missing or not true/false")


def _check_missing(
    signed: Mapping[str, str], version: str, verdict: str, declared: Mapping[str, object]
) -> None:
    absent = [n for n in expected_files(version) if n not in signed]
    for where, value in declared.items():
        if value != absent:
            raise VerificationFailed(
                f"{where}: does not name exactly the expected files that are absent: {absent}"
            )
    if absent and verdict == "PASS":
        raise VerificationFailed(f"{ATTESTATIONS} [verdict]: PASS although evidence is missing: {absent}")


def check_lineage(run: SignedRun, dependencies: Sequence[Any]) -> None:
    """lineage.json says what the signed statements say: same RC, run, inputs, and output digests."""
    files, signed = run.files, run.signed
    lineage = _signed_object(run, LINEAGE, "the bundle lineage")
    _check_same_run(lineage, LINEAGE, run)
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
        if entry.get("sha256") != signed[name] or entry.get("size") != file_size(files, name):
            raise VerificationFailed(
                f"{LINEAGE} [outputs.{name}]: sha256 or size differs from the signed file"
            )


def _check_same_run(document: Mapping[str, Any], name: str, run: SignedRun) -> None:
    """The signed document `name` names the release candidate and the run the statements sign."""
    if document.get("releaseCandidate") != run.rc:
        raise VerificationFailed(f"{name} [releaseCandidate]: differs from the signed release candidate")
    if document.get("runId") != run.run_id:
        raise VerificationFailed(
            f"{name} [runId]: {shown(document.get('runId'))} is not the signed invocationId {run.run_id!r}"
        )


def _signed_object(run: SignedRun, name: str, what: str) -> dict[str, Any]:
    if name not in run.signed:
        raise VerificationFailed(f"{name}: not a signed subject")
    document = parsed_json(read_document(run.files, name), name, what)
    if not isinstance(document, dict):
        raise VerificationFailed(f"{name}: not a JSON object")
    return document


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


def parsed_json(data: bytes, where: str, expected: str) -> Any:
    """JSON of a bundle file or payload; a syntax error is a failed verification naming the line."""

    def fail(
        message: str, *, line: int | None = None, field: str | None = None, hint: str | None = None
    ) -> PipelineError:
        at_line = f" (line {line})" if line is not None and b"\n" in data.strip() else ""
        return VerificationFailed(f"{where}{f' [{field}]' if field else ''}: {message}{at_line}", hint=hint)

    if not data.strip():
        raise VerificationFailed(f"{where}: empty; expected {expected}")
    return decode_json(data, where, expected=expected, fail=fail)
