"""The release candidate a partition stands for."""

import dagster as dg

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.records import ReleaseCandidateRecord
from verification_pipeline.release.tags import parse_rc


@dg.asset(
    partitions_def=release_candidates,
    code_version=code_version(__name__),
    group_name="release",
    kinds={"git"},
    description="The RC tag, the commit it points to (when a repository is configured) and its version.",
)
def release_candidate(
    context: dg.AssetExecutionContext, git_repo: GitRepoResource
) -> dg.Output[ReleaseCandidateRecord]:
    rc = parse_rc(context.partition_key)
    commit = git_repo.commit_of(rc.tag)
    value = ReleaseCandidateRecord(
        tag=rc.tag,
        version=rc.version,
        release_tag=rc.release_tag,
        commit=commit,
        repository=git_repo.repo or None,
    )
    context.log.info(f"{rc.tag}: version {rc.version}, commit {commit or '(no repository configured)'}")
    return dg.Output(
        value,
        data_version=dg.DataVersion(f"{rc.tag}@{commit or '-'}"),
        metadata={"tag": rc.tag, "version": rc.version, "commit": commit or "", "repository": git_repo.repo},
    )
