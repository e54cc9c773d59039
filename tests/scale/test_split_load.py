"""A partitioned run of the load assets, split in two k6 segments that run in parallel steps.

The run goes through the production instance (PostgreSQL storage, S3 compute logs) on the
multiprocess executor, so each segment is its own process, as it is its own pod on Kubernetes.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import polars as pl
import pytest

from tests.scale.conftest import COMPUTE_LOG_PREFIX, ProductionEnv
from tests.scale.runs import (
    LOAD_ASSETS,
    MEASURED_LOAD_ASSETS,
    PARTITIONS,
    SEGMENT_STEP,
    load_run_config,
    materialization,
    segment_windows,
    stored_frame,
    verify_load_in_run_worker,
)

RC = "v24.1.0-rc1"
SEGMENTS = {"0:1/2", "1/2:1"}  # k6 --execution-segment of segment_0 and segment_1
SEGMENT_DURATION = "10s"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_segments_run_in_parallel_steps_and_merge_into_one_table(
    production_instance: dg.DagsterInstance, production_env: ProductionEnv
) -> None:
    production_instance.add_dynamic_partitions(PARTITIONS, [RC])
    # As deployed: the load_target pool limited to 1. With infra/dagster.yaml's `run` granularity
    # that limit queues other runs, not the segments inside this one.
    production_instance.event_log_storage.set_concurrency_slots("load_target", 1)
    # Each segment gets one VU of each script: k6 gives a segment with no VU nothing to do.
    # The segments start when their step processes are up, which on a busy 2-core host can be
    # seconds apart (each spawned step imports the code location); a test shorter than that
    # skew would run its halves one after the other, so each lasts SEGMENT_DURATION.
    # In a run worker process of its own, as the run launcher starts one: the step executor's
    # fork server is per process and keeps the environment it started with, so a pytest process
    # that already started one (an earlier test) would hand the steps that test's environment.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as worker:
        run_id = worker.submit(
            verify_load_in_run_worker,
            RC,
            load_run_config(segments=2, duration=SEGMENT_DURATION, read_vus=2, write_vus=2),
        ).result()

    windows = segment_windows(production_instance, run_id)
    assert set(windows) == {"segment_0", "segment_1"}
    assert windows["segment_0"].overlaps(windows["segment_1"]), (
        f"the segment steps ran one after the other: {windows}"
    )

    # Everything the run recorded is in PostgreSQL, read back over a connection of our own.
    db = production_env.database
    assert db.query("SELECT status FROM runs WHERE run_id = %s", (run_id,)) == [("SUCCESS",)]
    assert db.query(
        "SELECT value FROM run_tags WHERE run_id = %s AND key = 'dagster/partition'", (run_id,)
    ) == [(RC,)]
    (stored_events,) = db.query("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,))[0]
    assert stored_events == len(production_instance.all_logs(run_id))
    finished_steps = {
        row[0]
        for row in db.query(
            "SELECT step_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
            (run_id,),
        )
    }
    assert {
        "load_samples.run_load_segment[segment_0]",
        "load_samples.run_load_segment[segment_1]",
    } <= finished_steps
    materialized = db.query(
        "SELECT asset_key, partition FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run_id,),
    )
    # the load assets, and the RC and its service-build check that the load steps wait for
    built = [*LOAD_ASSETS, dg.AssetKey("release_candidate"), dg.AssetKey("service_build")]
    assert sorted(materialized) == sorted((a.to_string(), RC) for a in built)

    for asset in MEASURED_LOAD_ASSETS:
        record = materialization(production_instance, asset, RC)
        assert record.run_id == run_id
        metadata = record.asset_materialization.metadata
        samples = stored_frame(production_env.store, metadata["uri"].value, metadata["sha256"].value)
        assert set(samples["segment"].unique()) == SEGMENTS, asset
        assert metadata["requests"].value == samples.height == metadata["dagster/row_count"].value, asset
        assert metadata["segments"].value == 2
        # The two k6 processes loaded the target at the same time, not only their steps overlapped.
        spans = samples.group_by("segment").agg(
            pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
        )
        first, second = spans.rows(named=True)
        assert first["first"] < second["last"] and second["first"] < first["last"], f"{asset}: {spans}"

    # Each segment step's stderr (its Dagster log, k6 progress) went where infra/dagster.yaml
    # sends step logs: the compute-log bucket, under the file key its LOGS_CAPTURED event names.
    for mapping_key in windows:
        step_key = f"{SEGMENT_STEP}[{mapping_key}]"
        (captured,) = [
            entry.dagster_event.logs_captured_data
            for entry in production_instance.all_logs(run_id, of_type=dg.DagsterEventType.LOGS_CAPTURED)
            if step_key in entry.dagster_event.logs_captured_data.step_keys
        ]
        stderr_key = f"{COMPUTE_LOG_PREFIX}/storage/{run_id}/compute_logs/{captured.file_key}.err"
        stderr = production_env.compute_logs.get_bytes(stderr_key, require_checksum=False).decode()
        assert f"{step_key} - STEP_SUCCESS" in stderr, stderr[-2000:]
