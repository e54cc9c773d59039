"""infra/dagster.yaml, unchanged, as the instance of a deployment: its storage is PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from tests.scale.conftest import ProductionEnv

DAGSTER_CLI = Path(sys.executable).parent / "dagster"
# Tables the instance needs for runs, events, assets, partitions, schedules/sensors and pools.
INSTANCE_TABLES = {
    "runs",
    "run_tags",
    "event_logs",
    "asset_keys",
    "dynamic_partitions",
    "jobs",
    "job_ticks",
    "concurrency_limits",
    "concurrency_slots",
}


def test_production_instance_stores_runs_events_and_schedules_in_postgresql(
    production_instance: dg.DagsterInstance, production_env: ProductionEnv
) -> None:
    assert isinstance(production_instance.run_storage, PostgresRunStorage)
    assert isinstance(production_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(production_instance.schedule_storage, PostgresScheduleStorage)
    # The file is used as shipped, S3 compute logs included (pointed at the test's SeaweedFS).
    assert type(production_instance.compute_log_manager).__name__ == "S3ComputeLogManager"

    tables = {
        row[0]
        for row in production_env.database.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    }
    missing = INSTANCE_TABLES - tables
    assert not missing, f"the instance did not create {sorted(missing)} in {production_env.database.database}"

    # A write through the instance is a row in this database, read back over a second connection.
    production_instance.add_dynamic_partitions("release_candidates", ["v24.1.0-rc1"])
    assert production_env.database.query(
        "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = %s", ("release_candidates",)
    ) == [("v24.1.0-rc1",)]


def test_deploy_step_sets_the_load_target_pool_in_postgresql(
    production_instance: dg.DagsterInstance, production_env: ProductionEnv
) -> None:
    # The exact command compose's instance-init and the k8s pool-limits job run after an install.
    done = subprocess.run(
        [str(DAGSTER_CLI), "instance", "concurrency", "set", "load_target", "1"],
        check=False,
        env=dict(os.environ),
        cwd=production_env.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    db = production_env.database
    assert db.query(
        'SELECT "limit", using_default_limit FROM concurrency_limits WHERE concurrency_key = %s',
        ("load_target",),
    ) == [(1, False)]
    assert db.query(
        "SELECT count(*) FROM concurrency_slots WHERE concurrency_key = %s AND NOT deleted", ("load_target",)
    ) == [(1,)]
    assert production_instance.event_log_storage.get_concurrency_info("load_target").slot_count == 1
