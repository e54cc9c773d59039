"""The release candidate a partition stands for, and the build of the service that will be measured."""

import dagster as dg

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.records import ServiceBuildRecord
from verification_pipeline.release.service_build import read_service_build, waived
from verification_pipeline.release.tags import parse_rc


@dg.asset(
    partitions_def=release_candidates,
    code_version=code_version(__name__),
    group_name="release",
    kinds={"git"},
    description="The RC tag, its version and its commit: the one its tag points to, or (no repository "
    "configured) the HEAD of this checkout. The commit is signed into the bundle; promotion tags it.",
)
def release_candidate(
    context: dg.AssetExecutionContext, git_repo: GitRepoResource
) -> dg.Output[ReleaseCandidate]:
    rc = parse_rc(context.partition_key)
    commit, commit_source = git_repo.commit_of(rc.tag)
    value = ReleaseCandidate(
        tag=rc.tag,
        version=rc.version,
        release_tag=rc.release_tag,
        commit=commit,
        commit_source=commit_source,
        repository=git_repo.repo or None,
    )
    where = f"tag in {git_repo.repo}" if git_repo.repo else "checkout HEAD: the RC is not a git tag here"
    context.log.info(f"{rc.tag}: version {rc.version}, commit {commit} ({where})")
    return dg.Output(
        value,
        data_version=dg.DataVersion(f"{rc.tag}@{commit}"),
        metadata={
            "tag": rc.tag,
            "version": rc.version,
            "commit": commit,
            "commit_source": commit_source,
            "repository": git_repo.repo,
        },
    )


class ServiceBuildConfig(dg.Config):
    waive: bool = False
    """Skip reading the service's build (it has no version endpoint). The bundle and the release
    notes then say so, and the verdict cannot be PASS."""
    waiver_reason: str = ""
    """Why the build cannot be read; required with `waive`."""


@dg.asset(
    partitions_def=release_candidates,
    code_version=code_version(__name__),
    group_name="release",
    kinds={"http"},
    description="The commit the service under test reports for its build, read before any load and "
    "required to be the RC's commit (a mismatch stops the run); or an explicit waiver, never a PASS.",
)
def service_build(
    context: dg.AssetExecutionContext,
    config: ServiceBuildConfig,
    target: TargetResource,
    release_candidate: ReleaseCandidate,
) -> dg.Output[ServiceBuildRecord]:
    expected = release_candidate.commit
    if config.waive:
        build = waived(expected, config.waiver_reason)
        context.log.warning(f"service build check WAIVED: {build.waiver}; the verdict cannot be PASS")
    else:
        build = read_service_build(
            expected, target.version_endpoint(), field=target.version_field, header=target.version_header
        )
        context.log.info(f"the service reports build {build.reported_commit}: the RC's commit")
    return dg.Output(
        build,
        metadata={
            "expected_commit": expected,
            "reported_commit": build.reported_commit or "",
            "source": build.source,
            "waiver": build.waiver or "",
        },
    )
