"""The demo's screen: a line per finished step with its key figure, Dagster's event lines in a log file,
and a live count of requests and errors from the k6 output while k6 writes it."""

from __future__ import annotations

import io
import uuid

import dagster as dg

from tests.loadtest.lines import k6_lines, point, write
from verification_pipeline.execution.runner import RunWatcher, StepDone, VerificationRun
from verification_pipeline.loadtest.progress import LoadTally


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["v1.0.0-rc1"]))
def counted(context) -> dg.Output[int]:  # (an annotated context breaks under postponed annotations)
    context.log.info("counting")
    return dg.Output(3, metadata={"dagster/row_count": 1234, "note": "x"})


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["v1.0.0-rc1"]))
def judged(counted: int) -> dg.Output[int]:
    return dg.Output(counted, metadata={"verdict": "PASS", "dagster/row_count": 1})


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["v1.0.0-rc1"]))
def broken(judged: int) -> int:
    raise ValueError(f"no good: {judged}\nsecond line")


def test_each_finished_step_is_one_line_with_its_key_figure_and_every_event_goes_to_the_log():
    job = dg.define_asset_job("j", selection=["counted", "judged", "broken"])
    defs = dg.Definitions(assets=[counted, judged, broken], jobs=[job])
    done: list[StepDone] = []
    log = io.StringIO()
    with dg.instance_for_test() as instance:
        run_id = str(uuid.uuid4())  # a Dagster run id is a UUID4 string
        with RunWatcher(instance, run_id, log, on_step=done.append, interval_s=0.05):
            defs.resolve_job_def("j").execute_in_process(
                partition_key="v1.0.0-rc1", instance=instance, run_id=run_id, raise_on_error=False
            )
    assert [(d.step, d.success, d.figure) for d in done] == [
        ("counted", True, "1,234 rows"),
        ("judged", True, "PASS"),
        ("broken", False, "ValueError: no good: 3"),
    ]
    assert all(d.seconds >= 0 for d in done)
    text = log.getvalue()
    assert "STEP_START" in text and "counting" in text and "ASSET_MATERIALIZATION" in text


def test_the_load_tally_counts_whole_lines_only_and_reads_each_byte_once(tmp_path):
    out = write(tmp_path / "read.json", k6_lines(7))
    tally = LoadTally()
    tally.update([out, tmp_path / "not-yet.json"])
    assert (tally.requests, tally.failed) == (7, 0)
    with out.open("a") as handle:  # one more request that failed, and half of a third line
        handle.write(
            point("http_reqs", 1) + "\n" + point("http_req_failed", 1) + "\n" + point("http_reqs", 1)[:30]
        )
    tally.update([out])
    assert (tally.requests, tally.failed) == (8, 1)
    with out.open("a") as handle:
        handle.write(point("http_reqs", 1)[30:] + "\n")
    tally.update([out])
    assert (tally.requests, tally.failed) == (9, 1)


def test_overhead_after_measuring_starts_when_the_last_measurement_ends():
    """The demo's "end of the measurements -> verified bundle": the fan-out probe runs after the
    load, so the overhead is counted from the later of the two, not from the load alone."""
    windows = {
        "load_samples.run_load_segment[segment_0]": (100.0, 121.0),
        "fanout_latencies": (121.5, 125.0),
        "sbom": (90.0, 94.0),
        "evidence_bundle": (127.0, 129.0),
    }
    run = VerificationRun("r", True, [], {}, windows)
    assert run.load_to_bundle_s() == 4.0
    assert VerificationRun("r", True, [], {}, {"evidence_bundle": (1.0, 2.0)}).load_to_bundle_s() is None
