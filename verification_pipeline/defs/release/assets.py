"""The release candidate a partition stands for."""

import dagster as dg

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.release.tags import parse_rc


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="release",
    kinds={"git"},
    description="The RC tag, its version and its commit: the one its tag points to, or (no repository "
    "configured) the HEAD of this checkout. The commit is signed into the bundle; promotion tags it.",
)
def release_candidate(context: dg.AssetExecutionContext, git_repo: GitRepoResource) -> dg.Output[dict]:
    rc = parse_rc(context.partition_key)
    commit, commit_source = git_repo.commit_of(rc.tag)
    value = {
        "tag": rc.tag,
        "version": rc.version,
        "release_tag": rc.release_tag,
        "commit": commit,
        "commit_source": commit_source,
        "repository": git_repo.repo or None,
    }
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
