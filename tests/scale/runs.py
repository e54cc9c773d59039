"""Launching the load assets of one RC on the multiprocess executor, and reading back what it left."""

from __future__ import annotations

import io
from dataclasses import dataclass

import dagster as dg
import polars as pl

from tests.scale import code_location
from verification_pipeline.defs.load.assets import LOAD_SAMPLE_ASSETS
from verification_pipeline.defs.load.assets import load_run_config as load_plan_config
from verification_pipeline.storage.s3 import ObjectStore, parse_s3_uri

LOAD_ASSETS = tuple(dg.AssetKey(name) for name in LOAD_SAMPLE_ASSETS)  # the load step makes all three
MEASURED_LOAD_ASSETS = (dg.AssetKey("read_load_samples"), dg.AssetKey("write_load_samples"))
"""The RC's own rows (the third, the concurrent baseline's, is empty without a baseline deployment)."""
PARTITIONS = "release_candidates"
SEGMENT_STEP = "load_samples.run_load_segment"


def load_run_config(*, segments: int, duration: str, read_vus: int, write_vus: int) -> dict:
    """k6 against the loopback target, split in `segments` steps that may all run at once."""
    return {
        **load_plan_config(
            {
                "source": "run",
                "segments": segments,
                "duration": duration,
                "read_vus": read_vus,
                "write_vus": write_vus,
            }
        ),
        "execution": {"config": {"multiprocess": {"max_concurrent": segments}}},
    }


def verify_load(instance: dg.DagsterInstance, rc: str, run_config: dict) -> str:
    """Materialize the load assets of partition `rc`; the run id, or the failures if it did not succeed."""
    with dg.execute_job(
        dg.reconstructable(code_location.verify_release_candidate),
        instance=instance,
        run_config=run_config,
        tags={"dagster/partition": rc},
        # the load steps run only after the RC and its service-build check
        asset_selection=[dg.AssetKey("release_candidate"), dg.AssetKey("service_build"), *LOAD_ASSETS],
    ) as result:
        failures = [
            f"{event.step_key}: {event.step_failure_data.error.to_string() if event.step_failure_data.error else ''}"
            for event in result.get_step_failure_events()
        ]
        assert result.success, f"run {result.run_id} for {rc} failed:\n" + "\n".join(failures)
        return result.run_id


def verify_load_in_run_worker(rc: str, run_config: dict) -> str:
    """`verify_load` in a process of its own, on the instance of $DAGSTER_HOME, as a run worker does.

    Two runs must not share a process: each run calls `logging.config.dictConfig`, which closes
    every handler of the process, and two runs in two threads of one process deadlock there.
    """
    with dg.DagsterInstance.get() as instance:
        return verify_load(instance, rc, run_config)


@dataclass(frozen=True)
class Window:
    """From a start to an end event (epoch seconds)."""

    start: float
    end: float

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def segment_windows(instance: dg.DagsterInstance, run_id: str) -> dict[str, Window]:
    """From STEP_START to STEP_SUCCESS of each load segment step, by mapping key (segment_0, ...)."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for entry in instance.all_logs(
        run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    ):
        step_key = entry.step_key or ""
        if not step_key.startswith(f"{SEGMENT_STEP}["):
            continue
        mapping_key = step_key.removeprefix(f"{SEGMENT_STEP}[").removesuffix("]")
        target = starts if entry.dagster_event_type == dg.DagsterEventType.STEP_START else ends
        target[mapping_key] = entry.timestamp
    assert starts.keys() == ends.keys(), f"segment steps started {sorted(starts)} but finished {sorted(ends)}"
    return {key: Window(starts[key], ends[key]) for key in starts}


def materialization(instance: dg.DagsterInstance, asset: dg.AssetKey, rc: str) -> dg.EventLogRecord:
    """The one materialization of `asset` for partition `rc` (each test has its own database)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[rc]), limit=10
    ).records
    assert len(records) == 1, f"{asset.to_user_string()} [{rc}] materialized {len(records)} times"
    return records[0]


def stored_frame(store: ObjectStore, uri: str, sha256: str) -> pl.DataFrame:
    """The Parquet object a materialization points at, checked against the digest it recorded."""
    bucket, key = parse_s3_uri(uri)
    assert bucket == store.bucket
    return pl.read_parquet(io.BytesIO(store.get_bytes(key, expected_sha256=sha256)))
