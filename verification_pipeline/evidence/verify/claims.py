"""Check 3: what the two statements claim about the RC agrees, with itself and with the caller.

Both name the same release candidate (the expected one when given), the bundle is stored under
that RC's version, and every other place a statement names the RC says the same: the
provenance's `commit`, the service build it measured (`serviceBuild`), and the URL the test
result points to. A signer the verifier trusts can still contradict itself; each of these
contradictions is refused, naming the field.
"""

from __future__ import annotations

from verification_pipeline.errors import ConfigError, VerificationFailed
from verification_pipeline.evidence.layout import ATTESTATIONS
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.evidence.verify.schemas import (
    ExternalParameters,
    SignedRc,
    TestResultPredicate,
    predicate_where,
)

_TESTED = predicate_where("test-result predicate")
_BUILT = predicate_where("provenance predicate") + ".buildDefinition.externalParameters"
_CONTRADICTION = "the producer contradicts itself; do not trust this bundle"


def release_candidate(
    tested: TestResultPredicate, parameters: ExternalParameters, expected_rc: str | None
) -> dict[str, str]:
    """The signed RC, once both predicates name the same, well-formed one (the expected one)."""
    for where, value in (
        (f"{_TESTED}.releaseCandidate]", tested.ours.releaseCandidate),
        (f"{_BUILT}.releaseCandidate]", parameters.releaseCandidate),
    ):
        try:
            rc_of(value)
        except ConfigError as exc:
            raise VerificationFailed(
                f"{where}: {exc.message}", hint="promotion tags the signed commit, so it must be there"
            ) from None
    signed, built = tested.ours.releaseCandidate, parameters.releaseCandidate
    if signed != built:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate]: the test result is for {signed.tag!r} "
            f"(commit {signed.commit}) but the provenance is for {built.tag!r} (commit {built.commit})",
            hint="an attestation from another release candidate was swapped in",
        )
    if expected_rc is not None and signed.tag != expected_rc:
        raise VerificationFailed(
            f"{ATTESTATIONS} [releaseCandidate.tag]: signed for {signed.tag!r}, not {expected_rc!r}",
            hint="this is the evidence of another release candidate",
        )
    return signed.model_dump()


def rc_of(value: SignedRc) -> ReleaseCandidate:
    return ReleaseCandidate(
        tag=value.tag, commit=value.commit, version=value.version, commit_source=value.commitSource
    )


def check_stored_version(root_version: str | None, rc: dict[str, str], source: str) -> None:
    if root_version is not None and root_version != rc["version"]:
        raise VerificationFailed(
            f"{source}: stored under evidence/{root_version}/ but signed for version {rc['version']!r}",
            hint="the bundle was moved or renamed after signing; do not trust where it claims to belong",
        )


def check_commit_claims(parameters: ExternalParameters, rc: dict[str, str]) -> None:
    """`externalParameters.commit` and the service build name the RC's commit, or say why not."""
    commit = rc["commit"]
    if parameters.commit is not None and parameters.commit != commit:
        raise VerificationFailed(
            f"{_BUILT}.commit]: {parameters.commit[:64]!r} is not the signed RC's commit {commit}",
            hint=_CONTRADICTION,
        )
    build = parameters.serviceBuild
    if build is None:
        return
    if build.expectedCommit != commit:
        raise VerificationFailed(
            f"{_BUILT}.serviceBuild.expectedCommit]: {build.expectedCommit[:64]!r} is not the signed RC's commit {commit}",
            hint=_CONTRADICTION,
        )
    if build.verified and (build.waiver is not None or build.reportedCommit != commit):
        raise VerificationFailed(
            f"{_BUILT}.serviceBuild.verified]: true, although the service reported "
            f"{str(build.reportedCommit)[:64]!r}{' and the check was waived' if build.waiver else ''}, "
            f"not the RC's commit {commit}",
            hint=_CONTRADICTION,
        )


def check_url(tested: TestResultPredicate, rc: dict[str, str], run_id: str) -> None:
    """The test result's URL is where this run of this RC stored it: `.../<rc>/<run-id>/evidence/<version>`."""
    if tested.url is None:
        return
    tail = tested.url.rstrip("/").split("/")[-4:]
    if tail != [rc["tag"], run_id, "evidence", rc["version"]]:
        raise VerificationFailed(
            f"{_TESTED}.url]: {tested.url[:200]!r} is not the bundle of {rc['tag']} run {run_id} "
            f"(…/{rc['tag']}/{run_id}/evidence/{rc['version']})",
            hint=_CONTRADICTION,
        )
