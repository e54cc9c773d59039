"""One schema per signed predicate, checked once before any of its fields is read.

Each verified in-toto Statement is validated against `STATEMENT` and then against the entry of
`PREDICATE_SCHEMAS` for its predicate type; the checks after that read typed, validated models,
so a signed statement with a missing or mistyped field ends in a VerificationFailed naming the
field, never in a KeyError. A new predicate (a verification summary, say) is one model and one
entry in the table. Models are strict (no "1" for 1, no 1 for true) and keep unknown fields, as
the in-toto specs let producers add them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.layout import ATTESTATIONS
from verification_pipeline.evidence.statements import (
    EXTENSION,
    SLSA_PROVENANCE_PREDICATE,
    STATEMENT_TYPE,
    TEST_RESULT_PREDICATE,
    VERIFICATION_SUMMARY_PREDICATE,
)
from verification_pipeline.jsonio import shown
from verification_pipeline.verdict import Verdict

NonEmpty = Annotated[str, Field(min_length=1)]
Number = float | None
VerdictWord = Literal["PASS", "WARN", "INCONCLUSIVE", "INCOMPLETE", "FAIL"]
assert set(VerdictWord.__args__) == set(Verdict)  # type: ignore[attr-defined]  # one vocabulary


class _Signed(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class Descriptor(_Signed):
    """An in-toto ResourceDescriptor: a name, and a uri or a {algorithm: hex} digest."""

    name: str = ""
    uri: str | None = None
    digest: dict[str, str] | None = None

    @model_validator(mode="after")
    def _located(self) -> Descriptor:
        if self.uri is None and not self.digest:
            raise ValueError("a resource descriptor needs a uri or a digest")
        return self


class Subject(_Signed):
    name: NonEmpty
    digest: Annotated[dict[str, str], Field(min_length=1)]


class Statement(_Signed):
    type_: Literal["https://in-toto.io/Statement/v1"] = Field(alias="_type")
    subject: Annotated[list[Subject], Field(min_length=1)]
    predicateType: str
    predicate: dict[str, Any]


assert Statement.model_fields["type_"].annotation == Literal[STATEMENT_TYPE]  # the constant, once


class SignedRc(_Signed):
    """The release candidate as both predicates sign it: exactly these four strings."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    tag: NonEmpty
    commit: str  # its form is ReleaseCandidate's to judge, with the reason
    commitSource: str
    version: NonEmpty


class Gate(_Signed):
    """One signed gate; the figures a verdict is recomputed from, where the gate carries them."""

    name: NonEmpty
    verdict: VerdictWord
    value: Number = None
    threshold: Number = None
    ci_low: Number = None
    ci_high: Number = None
    delivery_ratio: Number = None
    min_delivery_ratio: Number = None
    reason: str | None = None
    n: int | None = None
    min_samples: int | None = None
    """Signed since `gateFigures` 1: a PASS needs n >= min_samples."""


class Extension(_Signed):
    releaseCandidate: SignedRc
    verdict: VerdictWord
    gates: list[Gate]
    missingFiles: list[str]
    gateFigures: int | None = None
    """`gates.GATE_FIGURES_VERSION` the gates were signed with; None in a bundle made before."""


class TestResultPredicate(_Signed):
    """in-toto test-result v0.1, with our extension field."""

    result: Literal["PASSED", "WARNED", "FAILED"]
    configuration: list[Descriptor]
    passedTests: list[str] = []
    warnedTests: list[str] = []
    failedTests: list[str] = []
    url: str | None = None
    ours: Extension = Field(alias="urn:verification-pipeline:release-verification:v1")


assert TestResultPredicate.model_fields["ours"].alias == EXTENSION  # the constant, spelled once more for mypy


class ServiceBuild(_Signed):
    expectedCommit: NonEmpty
    reportedCommit: str | None = None
    verified: bool
    waiver: str | None = None


class ExternalParameters(_Signed):
    releaseCandidate: SignedRc
    commit: str | None = None
    serviceBuild: ServiceBuild | None = None


class BuildDefinition(_Signed):
    buildType: NonEmpty
    externalParameters: ExternalParameters
    internalParameters: dict[str, Any] = {}
    resolvedDependencies: list[Descriptor] = []


class Builder(_Signed):
    id: NonEmpty


class RunMetadata(_Signed):
    invocationId: NonEmpty


class RunDetails(_Signed):
    builder: Builder
    metadata: RunMetadata


class ProvenancePredicate(_Signed):
    """SLSA provenance v1's required fields and the external parameters our builder signs."""

    buildDefinition: BuildDefinition
    runDetails: RunDetails


class Verifier(_Signed):
    id: NonEmpty
    version: dict[str, str] | None = None


class SummaryPolicy(_Signed):
    uri: NonEmpty
    digest: dict[str, str] | None = None


class VerificationSummaryPredicate(_Signed):
    """SLSA verification_summary v1's required fields (evidence/vsa.py builds and checks the rest)."""

    verifier: Verifier
    timeVerified: str | None = None
    resourceUri: NonEmpty
    policy: SummaryPolicy
    inputAttestations: list[Descriptor] = []
    verificationResult: Literal["PASSED", "FAILED"]
    verifiedLevels: list[str]
    slsaVersion: str | None = None


PREDICATE_SCHEMAS: dict[str, tuple[str, type[_Signed]]] = {
    TEST_RESULT_PREDICATE: ("test-result predicate", TestResultPredicate),
    SLSA_PROVENANCE_PREDICATE: ("provenance predicate", ProvenancePredicate),
    VERIFICATION_SUMMARY_PREDICATE: ("verification summary", VerificationSummaryPredicate),
}
"""predicateType -> (how errors name it, its schema): the predicates a bundle signs, once each."""
OPTIONAL_PREDICATES = frozenset({VERIFICATION_SUMMARY_PREDICATE})
"""Signed by bundles made since it existed; an older release's bundle verifies without one."""


def validated(model: type[_Signed], document: object, where: str) -> Any:
    """`document` as `model`, or VerificationFailed naming the first field that does not fit."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        problem = "missing" if error["type"] == "missing" else f"{shown(error['input'])}: {error['msg']}"
        raise VerificationFailed(
            f"{where}{'.' + field if field else ''}]: {problem}",
            hint="the producer signed a malformed statement; do not trust this bundle",
        ) from None


def predicate_where(label: str) -> str:
    """The prefix errors about a predicate's fields start with: `attestations.intoto.jsonl [label`."""
    return f"{ATTESTATIONS} [{label}"
