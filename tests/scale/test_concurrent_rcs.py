"""Two release candidates verified at the same time on one production instance keep their data apart.

Both runs share the PostgreSQL instance, the bucket and even step keys
(`load_samples.run_load_segment[segment_0]` exists in both). Each RC is loaded with its own
split, so its rows carry their own k6 execution-segment labels: a row of one RC found in the
other's table would show.

The runs are started directly (execute_job), not through the run queue: deployed, the
`load_target` pool would hold the second RC's run until the first finished, but nothing must
depend on that for the data to stay apart, so here they overlap on purpose.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import polars as pl
import pytest

from tests.scale.conftest import ProductionEnv
from tests.scale.runs import (
    LOAD_ASSETS,
    MEASURED_LOAD_ASSETS,
    PARTITIONS,
    Window,
    load_run_config,
    materialization,
    stored_frame,
    verify_load_in_run_worker,
)

# rc1 split in two steps, rc2 in one, with other VU counts and duration.
LOADS = {
    "v24.1.0-rc1": {"segments": 2, "duration": "3s", "read_vus": 2, "write_vus": 2},
    "v24.1.0-rc2": {"segments": 1, "duration": "4s", "read_vus": 3, "write_vus": 1},
}
SEGMENT_LABELS = {"v24.1.0-rc1": {"0:1/2", "1/2:1"}, "v24.1.0-rc2": {"0:1"}}
OUTPUT_OF_ASSET = {"read_load_samples": "read", "write_load_samples": "write"}


def _run_window(instance: dg.DagsterInstance, run_id: str) -> Window:
    (start,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    (end,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    return Window(start.timestamp, end.timestamp)


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_two_rcs_verified_at_once_do_not_mix_their_data(
    production_instance: dg.DagsterInstance, production_env: ProductionEnv
) -> None:
    production_instance.add_dynamic_partitions(PARTITIONS, list(LOADS))
    # One run worker process per RC, started together (what the run launcher does for two runs).
    with ProcessPoolExecutor(
        max_workers=len(LOADS), mp_context=multiprocessing.get_context("spawn")
    ) as workers:
        futures = {
            rc: workers.submit(verify_load_in_run_worker, rc, load_run_config(**LOADS[rc])) for rc in LOADS
        }
        run_ids = {rc: future.result() for rc, future in futures.items()}

    rc1, rc2 = LOADS
    assert _run_window(production_instance, run_ids[rc1]).overlaps(
        _run_window(production_instance, run_ids[rc2])
    )

    store, prefix = production_env.store, production_env.prefix
    keys = store.list(f"{prefix}/")
    # Asset values live under <prefix>/<rc>/; step outputs under <prefix>/_steps/<run id>/.
    # (and each run's k6 web dashboards, kept as originals under the run that made them).
    asset_objects = {key for key in keys if not key.startswith(f"{prefix}/_steps/")}
    dashboards = {key for key in asset_objects if "/originals/" in key and "/k6-dashboard/" in key}
    for key in dashboards:
        rc, run_id = key.removeprefix(f"{prefix}/").split("/")[0], key.split("/originals/")[1].split("/")[0]
        assert run_id == run_ids[rc], f"{key}: a dashboard of another run under {rc}"
    # the forbidden requests each load step sent beside k6, kept under the run that sent them
    authz_rows = {key for key in asset_objects if "/authz-rows/" in key}
    for key in authz_rows:
        rc, run_id = key.removeprefix(f"{prefix}/").split("/")[0], key.split("/authz-rows/")[1].split("/")[0]
        assert run_id == run_ids[rc], f"{key}: forbidden-request rows of another run under {rc}"
    assert {key.removeprefix(f"{prefix}/").split("/")[0] for key in authz_rows} == set(LOADS)
    # the service's resource figures each run read around its load (cost_per_request), likewise
    cost_samples = {key for key in asset_objects if "/cost-samples/" in key}
    for key in cost_samples:
        rc, run_id = (
            key.removeprefix(f"{prefix}/").split("/")[0],
            key.split("/cost-samples/")[1].split("/")[0],
        )
        assert run_id == run_ids[rc], f"{key}: resource figures of another run under {rc}"
    assert {key.removeprefix(f"{prefix}/").split("/")[0] for key in cost_samples} == set(LOADS)
    assert asset_objects - dashboards - authz_rows - cost_samples == {
        f"{prefix}/{rc}/{name}"
        for rc in LOADS
        for name in (
            "release_candidate.json",
            "service_build.json",
            *(f"{asset.path[-1]}.parquet" for asset in LOAD_ASSETS),
        )
    }
    step_runs = {key.split("/")[2] for key in keys if key.startswith(f"{prefix}/_steps/")}
    assert step_runs == set(run_ids.values())

    for rc, run_id in run_ids.items():
        for asset in MEASURED_LOAD_ASSETS:
            record = materialization(production_instance, asset, rc)
            assert record.run_id == run_id, f"{asset.to_user_string()} [{rc}] was written by another run"
            metadata = record.asset_materialization.metadata
            assert metadata["uri"].value == store.uri(f"{prefix}/{rc}/{asset.path[-1]}.parquet")
            samples = stored_frame(store, metadata["uri"].value, metadata["sha256"].value)
            assert set(samples["segment"].unique()) == SEGMENT_LABELS[rc], f"{asset.to_user_string()} [{rc}]"
            assert metadata["requests"].value == samples.height == metadata["dagster/row_count"].value

            # Row for row, the table is what this run's own segment steps produced.
            output = OUTPUT_OF_ASSET[asset.path[-1]]
            step_outputs = [
                key
                for key in keys
                if key.startswith(f"{prefix}/_steps/{run_id}/") and key.endswith(f"/{output}.parquet")
            ]
            assert len(step_outputs) == LOADS[rc]["segments"], step_outputs
            from_steps = pl.concat([pl.read_parquet(store.get_bytes(key)) for key in step_outputs])
            assert samples.sort(pl.all()).equals(from_steps.sort(pl.all())), (
                f"{asset.to_user_string()} [{rc}]"
            )
