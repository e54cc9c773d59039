"""Start verification when a release-candidate tag appears (or moves) in the service's repository."""

import json
import os

import dagster as dg

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.errors import PipelineError
from verification_pipeline.release.git import remote_tags

SENSOR_INTERVAL_S = int(os.environ.get("VP_SENSOR_INTERVAL_S", "60"))


def _plan(
    seen: dict[str, str], tags: dict[str, str], existing_partitions: set[str]
) -> tuple[list[dg.RunRequest], list[str]]:
    """Runs for tags that are new or point to a new commit; partitions to add for new tags."""
    requests = [
        dg.RunRequest(
            run_key=f"{tag}@{commit}",
            partition_key=tag,
            tags={"vp/rc": tag, "vp/commit": commit, "vp/trigger": "tag"},
        )
        for tag, commit in sorted(tags.items())
        if seen.get(tag) != commit
    ]
    new_partitions = sorted(tag for tag in tags if tag not in existing_partitions)
    return requests, new_partitions


@dg.sensor(
    name="release_candidate_sensor",
    job_name="verify_release_candidate",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls VP_GIT_REPO (path or URL) for tags matching VP_RC_TAG_PATTERN (default v*.*.*-rc*). "
    "A new tag, or a tag moved to a new commit, requests one run. The cursor maps tag -> commit.",
)
def release_candidate_sensor(context: dg.SensorEvaluationContext):
    repo = os.environ.get("VP_GIT_REPO", "")
    pattern = os.environ.get("VP_RC_TAG_PATTERN", "v*.*.*-rc*")
    if not repo:
        return dg.SkipReason("VP_GIT_REPO is not set: no repository to watch for release-candidate tags")
    try:
        tags = remote_tags(repo, pattern)
    except PipelineError as exc:
        return dg.SkipReason(f"cannot list tags of {repo}: {exc}")
    seen = json.loads(context.cursor) if context.cursor else {}
    existing = set(context.instance.get_dynamic_partitions(release_candidates.name))
    requests, new_partitions = _plan(seen, tags, existing)
    if not requests and not new_partitions:
        return dg.SkipReason(f"no new or moved tags matching {pattern} in {repo}")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[release_candidates.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(tags, sort_keys=True),
    )
