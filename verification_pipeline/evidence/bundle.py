"""Assemble an evidence bundle in memory: the evidence files, lineage, manifest and signed attestations.

The caller hands over whatever evidence exists as bytes keyed by name (the seed's layout);
what is missing is recorded, never papered over: the verdict is then INCOMPLETE, never PASS.
Everything derived here (lineage.json, manifest.json, attestations.intoto.jsonl) is a pure
function of the inputs, and Ed25519 signatures are deterministic, so the same inputs give the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verification_pipeline.errors import ConfigError, InputError
from verification_pipeline.evidence.dsse import sign_envelope
from verification_pipeline.evidence.keys import SigningKey
from verification_pipeline.evidence.layout import (
    ATTESTATIONS,
    GENERATED_FILES,
    LINEAGE,
    MANIFEST,
    bundle_root,
    check_relative_name,
    check_segment,
    expected_files,
    sha256_hex,
)
from verification_pipeline.evidence.statements import (
    ProvenanceInputs,
    ReleaseCandidate,
    build_provenance_statement,
    build_test_result_statement,
    bundle_verdict,
    canonical_json,
    rfc3339,
    subjects,
)
from verification_pipeline.evidence.vsa import build_vsa_statement
from verification_pipeline.gates import GateOutcome
from verification_pipeline.verdict import Verdict

MANIFEST_SCHEMA = "urn:verification-pipeline:evidence-manifest:v1"
DEV_KEY_WARNING = (
    "signed with a DEV key created on this machine: it proves integrity only to whoever trusts that key"
)


@dataclass(frozen=True)
class LineageStep:
    """How one bundle file was made: from which bundle files or inputs, by which asset and run."""

    output: str
    derived_from: tuple[str, ...]
    asset_key: str = ""
    run_id: str = ""
    code_version: str = ""


@dataclass(frozen=True)
class EvidenceBundle:
    """A complete, signed bundle held in memory. `files` includes the generated files."""

    release_candidate: ReleaseCandidate
    run_id: str
    created_at: str
    verdict: Verdict
    missing_files: tuple[str, ...]
    key_fingerprint: str
    dev_key: bool
    files: Mapping[str, bytes] = field(repr=False)

    @property
    def root(self) -> str:
        """Where the files live: `evidence/<version>` in a directory, the archive and S3."""
        return bundle_root(self.release_candidate.version)

    @property
    def attestations_sha256(self) -> str:
        return sha256_hex(self.files[ATTESTATIONS])


def assemble_bundle(
    evidence: Mapping[str, bytes],
    *,
    release_candidate: ReleaseCandidate,
    signing_key: SigningKey,
    provenance: ProvenanceInputs,
    outcomes: Sequence[GateOutcome],
    configuration: Sequence[Mapping[str, Any]] = (),
    lineage: Sequence[LineageStep] = (),
    created_at: dt.datetime | None = None,
    url: str | None = None,
) -> EvidenceBundle:
    """Build and sign a bundle.

    `evidence`: bundle-relative name -> bytes (e.g. "slo/read.json"); absent expected files are
    recorded as missing. `outcomes`: every SLO and scan gate. `configuration`: ResourceDescriptors
    of slos.yaml and the k6 scripts (test-result `configuration`). `provenance`: the run, its
    non-secret parameters and resolved dependencies. `url`: where the bundle will live.
    """
    rc = release_candidate
    _check_names(rc, provenance.run_id, evidence)
    missing = tuple(name for name in expected_files(rc.version) if name not in evidence)
    created = rfc3339(created_at or dt.datetime.now(dt.UTC), "created_at")
    verdict = bundle_verdict(outcomes, missing)

    files: dict[str, bytes] = dict(evidence)
    files[LINEAGE] = _json_file(_lineage_document(files, rc, provenance, lineage))
    files[MANIFEST] = _json_file(
        _manifest_document(files, rc, provenance.run_id, created, verdict, missing, signing_key)
    )
    file_subjects = subjects({name: sha256_hex(data) for name, data in files.items()})
    statements = (
        build_test_result_statement(
            file_subjects, rc, outcomes, missing_files=missing, configuration=configuration, url=url
        ),
        build_provenance_statement(file_subjects, rc, provenance),
    )
    summary = build_vsa_statement(
        rc,
        statements,
        verdict=verdict.value,
        configuration=configuration,
        verified_at=dt.datetime.fromisoformat(created),
        verifier_version=provenance.builder_version,
    )
    files[ATTESTATIONS] = b"".join(
        canonical_json(sign_envelope(canonical_json(statement), signing_key)) + b"\n"
        for statement in (*statements, summary)
    )
    return EvidenceBundle(
        release_candidate=rc,
        run_id=provenance.run_id,
        created_at=created,
        verdict=verdict,
        missing_files=missing,
        key_fingerprint=signing_key.fingerprint,
        dev_key=signing_key.is_dev_key,
        files=files,
    )


def _check_names(rc: ReleaseCandidate, run_id: str, evidence: Mapping[str, bytes]) -> None:
    """The RC's tag and version and the run id are path segments; the evidence names are bundle paths."""
    check_segment(rc.tag, "release_candidate.tag")
    check_segment(rc.version, "release_candidate.version")
    check_segment(run_id, "run_id")
    _check_evidence_names(evidence)


def _check_evidence_names(evidence: Mapping[str, bytes]) -> None:
    for name, data in evidence.items():
        check_relative_name(name, lambda message: InputError(message, field="evidence"))
        if name in GENERATED_FILES:
            raise InputError(f"{name} is written by the bundle itself; do not pass it", field="evidence")
        if not isinstance(data, bytes):
            raise InputError(f"{name}: evidence must be bytes, got {type(data).__name__}", field="evidence")


def _lineage_document(
    files: Mapping[str, bytes],
    rc: ReleaseCandidate,
    provenance: ProvenanceInputs,
    steps: Sequence[LineageStep],
) -> dict[str, Any]:
    """inputs (resolved dependencies) -> outputs (bundle files), each with its digest and step.

    A step may name expected files that are missing from this bundle (their absence is in the
    manifest); a step whose output is missing records nothing. Any other unknown name is a bug.
    """
    layout = set(expected_files(rc.version))
    known = set(files) | layout | {str(d.get("name")) for d in provenance.resolved_dependencies}
    by_output: dict[str, LineageStep] = {}
    for step in steps:
        if step.output not in files:
            if step.output in layout:
                continue
            raise ConfigError(f"{step.output!r} is not a file of this bundle", field="lineage.output")
        unknown = [name for name in step.derived_from if name not in known]
        if unknown:
            raise ConfigError(
                f"{step.output}: derived from {unknown}, which is neither a bundle file nor a resolved dependency",
                field="lineage.derived_from",
            )
        by_output[step.output] = step
    outputs = []
    for name in sorted(files):
        entry: dict[str, Any] = {"name": name, "sha256": sha256_hex(files[name]), "size": len(files[name])}
        origin = by_output.get(name)
        if origin is not None:
            entry["derivedFrom"] = list(origin.derived_from)
            entry.update({k: v for k, v in _step_origin(origin).items() if v})
        outputs.append(entry)
    return {
        "releaseCandidate": rc.as_json(),
        "runId": provenance.run_id,
        "inputs": [dict(d) for d in provenance.resolved_dependencies],
        "outputs": outputs,
    }


def _step_origin(step: LineageStep) -> dict[str, str]:
    return {"assetKey": step.asset_key, "runId": step.run_id, "codeVersion": step.code_version}


def _manifest_document(
    files: Mapping[str, bytes],
    rc: ReleaseCandidate,
    run_id: str,
    created: str,
    verdict: Verdict,
    missing: Sequence[str],
    signing_key: SigningKey,
) -> dict[str, Any]:
    key: dict[str, Any] = {"fingerprint": signing_key.fingerprint, "devKey": signing_key.is_dev_key}
    if signing_key.is_dev_key:
        key["warning"] = DEV_KEY_WARNING
    return {
        "schema": MANIFEST_SCHEMA,
        "releaseCandidate": rc.as_json(),
        "runId": run_id,
        "createdAt": created,
        "verdict": verdict.value,
        "signingKey": key,
        "files": [{"name": n, "sha256": sha256_hex(files[n]), "size": len(files[n])} for n in sorted(files)],
        "missingFiles": list(missing),
        "attestations": ATTESTATIONS,
    }


def _json_file(document: Mapping[str, Any]) -> bytes:
    # Indented for the people who read these files; key order fixed for reproducible bytes.
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
