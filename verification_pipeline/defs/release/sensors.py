"""Start verification when a release-candidate tag appears (or moves) in the service's repository."""

import hashlib
import json
import os

import dagster as dg

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.errors import PipelineError
from verification_pipeline.release.git import remote_tags
from verification_pipeline.release.tags import is_rc

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
        dynamic_partitions_requests=[release_candidates.build_add_request(new_partitions)]
        if new_partitions
        else [],
        cursor=json.dumps(tags, sort_keys=True),
    )


INCOMING = "incoming"
# CI's upload layout (infra/ci/verify-rc.yml): which file feeds which asset's import config.
INCOMING_FILES = {
    "slo/read.json": ("load", "read_files"),
    "slo/write.json": ("load", "write_files"),
    "slo/fanout.json": ("fanout_latencies", "path"),
    "security/sbom.syft.json": ("sbom", "path"),
    "security/vulns.grype.json": ("vulnerability_report", "path"),
    "policy/opa_report.json": ("policy_report", "path"),
}
REQUIRED_INCOMING = ("slo/read.json", "slo/write.json")


def import_run_config(uris: dict[str, str]) -> dict:
    """Run config that makes every asset with a CI artifact import it instead of measuring."""
    load = {
        "source": "import",
        "read_files": [uris["slo/read.json"]],
        "write_files": [uris["slo/write.json"]],
    }
    ops: dict = {"load_samples": {"ops": {"plan_load_segments": {"config": load}}}}
    for name, (asset, field) in INCOMING_FILES.items():
        if asset == "load" or name not in uris:
            continue
        config = {field: uris[name]}
        if asset in ("sbom", "fanout_latencies"):
            config["source"] = "import"
        ops[asset] = {"config": config}
    return {"ops": ops}


def plan_incoming(
    keys: list[str], base: str, seen: dict[str, str]
) -> tuple[dict[str, tuple[str, dict[str, str]]], list[str]]:
    """RC -> (fingerprint, relative name -> key) for complete, new uploads; and names skipped as not RCs."""
    by_rc: dict[str, dict[str, str]] = {}
    skipped = set()
    for key in keys:
        rc, _, name = key[len(base) :].partition("/")
        if not is_rc(rc):
            skipped.add(rc)
            continue
        if name in INCOMING_FILES:
            by_rc.setdefault(rc, {})[name] = key
    ready = {}
    for rc, files in by_rc.items():
        if not all(name in files for name in REQUIRED_INCOMING):
            continue
        fingerprint = hashlib.sha256("\n".join(sorted(files.values())).encode()).hexdigest()[:16]
        if seen.get(rc) != fingerprint:
            ready[rc] = (fingerprint, files)
    return ready, sorted(skipped)


@dg.sensor(
    name="incoming_artifacts_sensor",
    job_name="verify_release_candidate",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="CI artifacts uploaded under `<prefix>/incoming/<rc>/` (at least slo/read.json and slo/write.json) "
    "start an import-mode run for that RC: the pipeline reads what CI measured instead of measuring again.",
)
def incoming_artifacts_sensor(context: dg.SensorEvaluationContext, s3: S3Resource):
    store = s3.store()
    base = store.key(INCOMING) + "/"
    try:
        keys = store.list(base)
    except PipelineError as exc:
        return dg.SkipReason(f"cannot list {store.uri(base)}: {exc}")
    seen = json.loads(context.cursor) if context.cursor else {}
    ready, skipped = plan_incoming(keys, base, seen)
    if skipped:
        context.log.warning(
            f"ignored folders under {store.uri(base)} that are not RC tags: {', '.join(skipped)}"
        )
    if not ready:
        return dg.SkipReason(f"no new complete uploads under {store.uri(base)}")
    existing = set(context.instance.get_dynamic_partitions(release_candidates.name))
    new_partitions = sorted(rc for rc in ready if rc not in existing)
    requests = [
        dg.RunRequest(
            run_key=f"incoming:{rc}:{fingerprint}",
            partition_key=rc,
            run_config=import_run_config({name: store.uri(key) for name, key in files.items()}),
            tags={"vp/rc": rc, "vp/trigger": "incoming"},
        )
        for rc, (fingerprint, files) in sorted(ready.items())
    ]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[release_candidates.build_add_request(new_partitions)]
        if new_partitions
        else [],
        cursor=json.dumps({**seen, **{rc: fp for rc, (fp, _) in ready.items()}}, sort_keys=True),
    )
