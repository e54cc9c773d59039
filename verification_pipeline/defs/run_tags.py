"""The verdict as a run tag, so the runs list says whether the RC passed, not only whether the run did.

A run that decided tags `verdict: PASS|WARN|INCONCLUSIVE|FAIL` (a FAIL run also ends failed,
because `release_decision`'s blocking check stops it: that is the RC failing its gates). A run
that broke before deciding is tagged `verdict: INCOMPLETE` by `incomplete_run_sensor`, with the
step that broke: the pipeline failed, and nothing was said about the RC.
"""

import dagster as dg

from verification_pipeline.verdict import Verdict

VERDICT_TAG = "verdict"
BROKEN_STEP_TAG = "vp/broken-step"


def tag_verdict(instance: dg.DagsterInstance, run_id: str, verdict: Verdict) -> None:
    instance.add_run_tags(run_id, {VERDICT_TAG: str(verdict)})


@dg.run_failure_sensor(
    name="incomplete_run_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Tags a run that failed before release_decision gave a verdict `verdict: INCOMPLETE` "
    "(the pipeline broke), keeping it apart from an RC that failed its gates (`verdict: FAIL`).",
)
def incomplete_run_sensor(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    if VERDICT_TAG in run.tags:
        return  # decided: a failed blocking check after a verdict is the RC failing, not the pipeline
    tags = {VERDICT_TAG: str(Verdict.INCOMPLETE)}
    broken = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    if broken:
        tags[BROKEN_STEP_TAG] = broken[0]
    context.instance.add_run_tags(run.run_id, tags)
