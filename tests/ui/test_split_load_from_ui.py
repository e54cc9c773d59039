"""A split load test launched from the UI, on the code location's default executor.

The UI sends no executor config, so the steps are forked from a server that preloaded the
project (verification_pipeline/defs/executor.py) instead of starting a fresh Python each. They
must still be processes of their own, and the two execution segments of one run must load the
target at the same time: that is what makes a split test one test.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from tests.plugins.webserver import DagsterUI, describe_failures, launch_and_wait, step_failures
from tests.scale.runs import (
    LOAD_ASSETS,
    MEASURED_LOAD_ASSETS,
    SEGMENT_STEP,
    materialization,
    segment_windows,
    stored_frame,
)

pytestmark = pytest.mark.slow

RC = "v24.1.0-rc2"  # test_materialize.py verifies rc1 on the same instance
SPLIT_LOAD = {
    "ops": {
        "load_samples": {
            "ops": {
                "plan_load_segments": {
                    # one VU of each script per segment: k6 gives a segment without a VU nothing to do
                    "config": {
                        "source": "run",
                        "segments": 2,
                        "duration": "10s",
                        "read_vus": 2,
                        "write_vus": 2,
                    }
                }
            }
        }
    }
}


def test_a_split_load_launched_from_the_ui_runs_its_segments_at_once_in_processes_of_their_own(
    dagster_ui: DagsterUI, s3_stack
):
    run_id, status = launch_and_wait(
        dagster_ui,
        RC,
        SPLIT_LOAD,
        asset_selection=[
            "release_candidate",
            "service_build",
            *(key.to_user_string() for key in LOAD_ASSETS),
        ],
    )
    assert status == "SUCCESS", describe_failures(step_failures(dagster_ui, run_id)) or dagster_ui.log_tail()

    with dagster_ui.instance() as instance:
        windows = segment_windows(instance, run_id)
        (run_start,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
        step_pids = {
            entry.step_key: entry.dagster_event.pid
            for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        }
        records = {asset: materialization(instance, asset, RC) for asset in MEASURED_LOAD_ASSETS}

    assert set(windows) == {"segment_0", "segment_1"}
    first, second = windows["segment_0"], windows["segment_1"]
    overlap = min(first.end, second.end) - max(first.start, second.start)
    shorter = min(first.end - first.start, second.end - second.start)
    assert overlap / shorter > 0.5, f"the segment steps mostly ran one after the other: {windows}"

    segment_pids = {step_pids[f"{SEGMENT_STEP}[{key}]"] for key in windows}
    assert len(segment_pids) == 2 and run_start.dagster_event.pid not in segment_pids, step_pids

    store = s3_stack.store()
    for asset, record in records.items():
        assert record.run_id == run_id
        metadata = record.asset_materialization.metadata
        samples = stored_frame(store, metadata["uri"].value, metadata["sha256"].value)
        spans = samples.group_by("segment").agg(
            pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
        )
        assert spans.height == 2, f"{asset}: {spans}"
        a, b = spans.rows(named=True)
        # the two k6 processes sent requests at the same time, not only their steps overlapped
        assert a["first"] < b["last"] and b["first"] < a["last"], f"{asset}: {spans}"
