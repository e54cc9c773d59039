"""Start verification when a release-candidate tag appears (or moves) in the service's repository."""

import hashlib
import inspect
import json

import dagster as dg

from verification_pipeline.defs.job import JOB
from verification_pipeline.defs.load.assets import load_run_config
from verification_pipeline.defs.partitions import RELEASE_CANDIDATES, release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.errors import PipelineError
from verification_pipeline.evidence.layout import ci_imports
from verification_pipeline.release.git import remote_tags
from verification_pipeline.release.tags import is_rc, newest

DEFAULT_INTERVAL_S = 60


def _plan(
    seen: dict[str, str] | None, tags: dict[str, str], existing_partitions: set[str]
) -> tuple[list[dg.RunRequest], list[str]]:
    """Runs for tags that are new or point to a new commit; partitions to add for new tags.

    On the first tick (`seen` is None: no cursor yet) only the newest RC is run: the older tags
    were cut before the sensor existed, and measuring them now would measure whatever is
    deployed today under their names. They are recorded in the cursor, so they never run later.
    """
    if seen is None:
        latest = newest(list(tags))
        seen = {tag: commit for tag, commit in tags.items() if tag != latest}
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


def release_candidate_sensor(
    context: dg.SensorEvaluationContext, git_repo: GitRepoResource
) -> dg.SensorResult | dg.SkipReason:
    """Polls the `git_repo` resource's repository (VP_GIT_REPO, a path or URL) for tags matching its
    `tag_pattern` (VP_RC_TAG_PATTERN, default v*.*.*-rc*). A new tag, or a tag moved to a new
    commit, requests one run; the first tick runs only the newest RC and records the older ones.
    The cursor maps tag -> commit."""
    repo, pattern = git_repo.repo, git_repo.tag_pattern
    if not repo:
        return dg.SkipReason("VP_GIT_REPO is not set: no repository to watch for release-candidate tags")
    try:
        tags = remote_tags(repo, pattern)
    except PipelineError as exc:
        return dg.SkipReason(f"cannot list tags of {repo}: {exc}")
    seen = json.loads(context.cursor) if context.cursor else None
    existing = set(context.instance.get_dynamic_partitions(RELEASE_CANDIDATES))
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
# CI's upload layout (infra/ci/verify-rc.yml) is the bundle's: `evidence.layout.BUNDLE_FILES`
# says which file feeds which asset's import config.
INCOMING_FILES = ci_imports()
REQUIRED_INCOMING = tuple(name for name, ci in INCOMING_FILES.items() if ci.required)
LOAD_ASSETS = ("read_load_samples", "write_load_samples")  # one load plan imports both
SOURCE_MODE_ASSETS = ("sbom", "fanout_latencies")  # their config also names a `source` (run or import)


def import_run_config(uris: dict[str, str]) -> dict:
    """Run config that makes every asset with a CI artifact import it instead of measuring."""
    load: dict = {"source": "import"}
    ops: dict = {}
    for name, ci in INCOMING_FILES.items():
        if name not in uris:
            continue
        if ci.asset in LOAD_ASSETS:
            load[ci.field] = [uris[name]]
            continue
        config = {ci.field: uris[name]}
        if ci.asset in SOURCE_MODE_ASSETS:
            config["source"] = "import"
        ops[ci.asset] = {"config": config}
    ops["overload_phase"] = {"config": {"source": "import"}}  # no service to drive: NOT MEASURED, said
    return {"ops": {**load_run_config(load)["ops"], **ops}}


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


def incoming_artifacts_sensor(
    context: dg.SensorEvaluationContext, s3: S3Resource
) -> dg.SensorResult | dg.SkipReason:
    """CI artifacts uploaded under `<prefix>/incoming/<rc>/` (at least slo/read.json and slo/write.json)
    start an import-mode run for that RC: the pipeline reads what CI measured instead of measuring again."""
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
    existing = set(context.instance.get_dynamic_partitions(RELEASE_CANDIDATES))
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


def build_sensors(interval_s: int = DEFAULT_INTERVAL_S) -> list[dg.SensorDefinition]:
    """Both sensors, polling every `interval_s` seconds (VP_SENSOR_INTERVAL_S)."""
    return [
        dg.sensor(
            name=evaluate.__name__,
            job_name=JOB,
            minimum_interval_seconds=interval_s,
            default_status=status,
            description=inspect.cleandoc(evaluate.__doc__ or ""),
        )(evaluate)
        for evaluate, status in (
            (release_candidate_sensor, dg.DefaultSensorStatus.RUNNING),
            (incoming_artifacts_sensor, dg.DefaultSensorStatus.STOPPED),
        )
    ]
