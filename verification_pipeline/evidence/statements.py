"""The two in-toto Statements (v1) a bundle signs: the test result and the SLSA provenance.

Both name every bundle file as a subject (name + sha256), so a changed, missing or extra file
breaks them. Both carry the release candidate inside the signed payload, so a bundle cannot be
passed off as evidence for another RC. Our fields beyond the test-result schema sit under one
in-toto extension field named by a URI (`EXTENSION`), so they cannot collide with a field a
later version of the predicate adds; consumers that do not know it ignore it, and it never
turns a FAIL into a PASS. The RC's commit is required: promotion tags exactly that commit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import sha256_hex
from verification_pipeline.gates import GATE_FIGURES_VERSION, GateOutcome, rc_verdict
from verification_pipeline.jsonio import camel_case_fields
from verification_pipeline.verdict import Verdict

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_PREDICATE = "https://in-toto.io/attestation/test-result/v0.1"
SLSA_PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v1"
VERIFICATION_SUMMARY_PREDICATE = "https://slsa.dev/verification_summary/v1"
"""The SLSA VSA over the other two (built and checked in evidence/vsa.py)."""
PREDICATE_TYPES = (TEST_RESULT_PREDICATE, SLSA_PROVENANCE_PREDICATE)

EVIDENCE_BUILD_TYPE = "urn:verification-pipeline:buildtype:evidence-bundle:v1"
"""How to read externalParameters: `releaseCandidate` {tag, commit, version} plus the run's
allow-listed, non-secret settings (source modes, load profile, target URL)."""
DEFAULT_BUILDER_ID = "urn:verification-pipeline:builder:dagster"

EXTENSION = "urn:verification-pipeline:release-verification:v1"
"""The test-result predicate's extension field: {releaseCandidate, verdict, gates, missingFiles,
gateFigures} (`gateFigures`: since gates sign their figures; absent in older bundles)."""
EXTENSION_FIELDS = ("releaseCandidate", "verdict", "gates", "missingFiles", "gateFigures")

COMMIT_FROM_TAG = "git-tag"
COMMIT_FROM_CHECKOUT = "checkout-head"
COMMIT_SOURCES = (COMMIT_FROM_TAG, COMMIT_FROM_CHECKOUT)
"""Where the RC's commit came from: the commit its git tag points to, or (where the RC is not a
git tag, as in the demo) the HEAD of the checkout that was verified."""

COMPLETENESS_TEST = "evidence:complete"
"""The test that fails when an expected bundle file is missing."""

# A parameter whose name or value looks like a credential never enters a signed, published payload.
_SECRET_NAME = re.compile(
    r"token|secret|passw(?:or)?d|passphrase|credential|jwt|bearer|authorization|cookie|private|key(?!_?id)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"^eyJ[\w-]+\.[\w-]+\.[\w-]*$"  # a JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|^(?:AKIA|ASIA)[A-Z0-9]{16}$"  # an AWS access key id
    r"|://[^/\s:@]+:[^/\s@]+@"  # a URL with user:password
)


class ReleaseCandidate(BaseModel):
    """The release candidate: the one type from the partition key to the signed statement.

    The `release_candidate` asset makes it (with the tag parsed by `release.tags.parse_rc` and the
    commit from git), the IO manager stores all its fields, and the bundle signs `as_json()`: the
    tag, commit, where the commit came from and the version. `verify` reads those four back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: str
    version: str
    release_tag: str | None = None
    """The tag promotion creates (`v24.1.0`); not signed, so None for an RC read back from a bundle."""
    commit: str
    """The tag's commit, or this checkout's HEAD where the RC is not a git tag (`commit_source`)."""
    commit_source: str = COMMIT_FROM_TAG
    repository: str | None = None
    """The git repository the commit was read from; None for the checkout."""

    @model_validator(mode="after")
    def _signable(self) -> ReleaseCandidate:
        # ConfigError is not a ValueError, so pydantic lets it through as it is: the caller sees the field
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", self.commit):
            raise ConfigError(
                f"{self.commit!r} is not a full git commit id",
                field="release_candidate.commit",
                hint="the signed commit is what promotion tags: set VP_GIT_REPO, or verify from a git checkout",
            )
        if self.commit_source not in COMMIT_SOURCES:
            raise ConfigError(f"{self.commit_source!r} is not one of {COMMIT_SOURCES}", field="commitSource")
        return self

    def as_json(self) -> dict[str, str]:
        """The signed form (`releaseCandidate` of the statements, the manifest and `latest.json`)."""
        return camel_case_fields(self, "tag", "commit", "commit_source", "version")


@dataclass(frozen=True)
class ProvenanceInputs:
    """What the SLSA provenance records about one pipeline run (the Dagster run)."""

    run_id: str
    started_on: dt.datetime
    finished_on: dt.datetime
    external_parameters: Mapping[str, Any]
    resolved_dependencies: Sequence[Mapping[str, Any]]
    internal_parameters: Mapping[str, Any] = field(default_factory=dict)
    builder_id: str = DEFAULT_BUILDER_ID
    builder_version: Mapping[str, str] = field(default_factory=dict)
    build_type: str = EVIDENCE_BUILD_TYPE


def resource_descriptor(
    name: str,
    *,
    data: bytes | None = None,
    uri: str | None = None,
    digest: Mapping[str, str] | None = None,
    media_type: str | None = None,
    annotations: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An in-toto ResourceDescriptor; give the bytes (hashed here) or a digest, and/or a URI."""
    if data is not None:
        digest = {"sha256": sha256_hex(data)}
    if not digest and not uri:
        raise ConfigError(f"resource {name!r} needs its bytes, a digest or a uri", field="resourceDescriptor")
    descriptor: dict[str, Any] = {"name": name}
    if uri:
        descriptor["uri"] = uri
    if digest:
        descriptor["digest"] = dict(digest)
    if media_type:
        descriptor["mediaType"] = media_type
    if annotations:
        descriptor["annotations"] = dict(annotations)
    return descriptor


def tool_descriptor(name: str, version: str, *, binary_sha256: str, uri: str | None = None) -> dict[str, Any]:
    """A tool that produced evidence (k6, syft): its version, and the sha256 of the binary that ran."""
    return resource_descriptor(
        name,
        uri=uri or f"pkg:generic/{name}@{version}",
        digest={"sha256": binary_sha256},
        annotations={"version": version},
    )


def subjects(file_digests: Mapping[str, str]) -> list[dict[str, Any]]:
    """One subject per bundle file, sorted by name so the payload is the same on every run."""
    return [{"name": name, "digest": {"sha256": file_digests[name]}} for name in sorted(file_digests)]


# The test-result v0.1 `result` each bundle verdict is signed with: anything short of PASS is
# not PASSED, and missing evidence is a failure.
RESULT_OF_VERDICT: dict[str, str] = {
    Verdict.PASS: "PASSED",
    Verdict.WARN: "WARNED",
    Verdict.INCONCLUSIVE: "WARNED",
    Verdict.FAIL: "FAILED",
    Verdict.INCOMPLETE: "FAILED",
}


def bundle_verdict(outcomes: Sequence[GateOutcome], missing_files: Sequence[str]) -> Verdict:
    """The RC's verdict (`gates.rc_verdict`): missing evidence is never a pass."""
    return rc_verdict(outcomes, missing_files)


def build_test_result_statement(
    file_subjects: list[dict[str, Any]],
    rc: ReleaseCandidate,
    outcomes: Sequence[GateOutcome],
    *,
    missing_files: Sequence[str],
    configuration: Sequence[Mapping[str, Any]],
    url: str | None = None,
) -> dict[str, Any]:
    """test-result v0.1: PASSED only for PASS; WARN and INCONCLUSIVE gates are WARNED; failures or gaps FAILED."""
    passed = [o.name for o in outcomes if o.verdict is Verdict.PASS]
    warned = [o.name for o in outcomes if o.verdict in (Verdict.WARN, Verdict.INCONCLUSIVE)]
    failed = [o.name for o in outcomes if o.verdict in (Verdict.FAIL, Verdict.INCOMPLETE)]
    if missing_files or not outcomes:
        failed.append(COMPLETENESS_TEST)
    verdict = bundle_verdict(outcomes, missing_files)
    predicate: dict[str, Any] = {
        "result": RESULT_OF_VERDICT[verdict],
        "configuration": [dict(c) for c in configuration],
        "passedTests": passed,
        "warnedTests": warned,
        "failedTests": failed,
        EXTENSION: {
            "releaseCandidate": rc.as_json(),
            "verdict": verdict.value,
            "gates": [{**o.detail, "name": o.name, "verdict": o.verdict.value} for o in outcomes],
            "missingFiles": list(missing_files),
            "gateFigures": GATE_FIGURES_VERSION,
        },
    }
    if url:
        predicate["url"] = url
    return _statement(file_subjects, TEST_RESULT_PREDICATE, predicate)


def build_provenance_statement(
    file_subjects: list[dict[str, Any]], rc: ReleaseCandidate, inputs: ProvenanceInputs
) -> dict[str, Any]:
    """SLSA provenance v1 for the run that produced the bundle; refuses parameters that look secret."""
    check_no_secrets(inputs.external_parameters, "externalParameters")
    check_no_secrets(inputs.internal_parameters, "internalParameters")
    if "releaseCandidate" in inputs.external_parameters:
        raise ConfigError("set by the bundle from the RC itself", field="externalParameters.releaseCandidate")
    builder: dict[str, Any] = {"id": inputs.builder_id}
    if inputs.builder_version:
        builder["version"] = dict(inputs.builder_version)
    predicate = {
        "buildDefinition": {
            "buildType": inputs.build_type,
            "externalParameters": {"releaseCandidate": rc.as_json(), **inputs.external_parameters},
            "internalParameters": dict(inputs.internal_parameters),
            "resolvedDependencies": [dict(d) for d in inputs.resolved_dependencies],
        },
        "runDetails": {
            "builder": builder,
            "metadata": {
                "invocationId": inputs.run_id,
                "startedOn": rfc3339(inputs.started_on, "runDetails.metadata.startedOn"),
                "finishedOn": rfc3339(inputs.finished_on, "runDetails.metadata.finishedOn"),
            },
        },
    }
    return _statement(file_subjects, SLSA_PROVENANCE_PREDICATE, predicate)


def signed_release_candidate(statement: Mapping[str, Any]) -> Any:
    """Where each predicate carries the RC; None when the statement does not say."""
    predicate = statement.get("predicate")
    if not isinstance(predicate, Mapping):
        return None
    if statement.get("predicateType") == TEST_RESULT_PREDICATE:
        extension = predicate.get(EXTENSION)
        return extension.get("releaseCandidate") if isinstance(extension, Mapping) else None
    build = predicate.get("buildDefinition")
    params = build.get("externalParameters") if isinstance(build, Mapping) else None
    return params.get("releaseCandidate") if isinstance(params, Mapping) else None


def check_no_secrets(params: Mapping[str, Any], field_path: str) -> None:
    """Refuse (never redact silently) a parameter whose name or value looks like a credential.

    The error names the field, never the value.
    """
    for name, value in params.items():
        where = f"{field_path}.{name}"
        if _SECRET_NAME.search(str(name)):
            raise ConfigError(
                "looks like a secret; provenance is published with the bundle",
                field=where,
                hint="pass only allow-listed, non-secret parameters; leave credentials out entirely",
            )
        _check_value(value, where)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, Mapping):
        check_no_secrets(value, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
    elif isinstance(value, str) and _SECRET_VALUE.search(value):
        raise ConfigError(
            "the value looks like a credential (JWT, private key, access key or URL password)",
            field=where,
            hint="provenance parameters must not hold secrets; leave it out",
        )


def rfc3339(moment: dt.datetime, field_name: str) -> str:
    if moment.tzinfo is None:
        raise ConfigError("needs a timezone (UTC)", field=field_name)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same document always serializes to the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _statement(
    file_subjects: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": file_subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }
