"""Re-verify the newest release candidate every night: the service and its dependencies drift."""

import dagster as dg

from verification_pipeline.defs.job import JOB
from verification_pipeline.defs.partitions import RELEASE_CANDIDATES
from verification_pipeline.release.tags import newest


@dg.schedule(
    name="nightly_reverification",
    cron_schedule="0 3 * * *",
    job_name=JOB,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Re-verifies the newest RC (semantic-version order: rc10 after rc9).",
)
def nightly_reverification(context: dg.ScheduleEvaluationContext):
    rc = newest(context.instance.get_dynamic_partitions(RELEASE_CANDIDATES))
    if rc is None:
        return dg.SkipReason("no release candidate has been registered yet")
    return dg.RunRequest(partition_key=rc, tags={"vp/rc": rc, "vp/trigger": "nightly"})
