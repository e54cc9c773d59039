"""The production dagster.yaml: valid for Dagster 1.13, and it means what it says.

PostgreSQL itself is exercised by the PostgreSQL tests; here the file is checked against Dagster's
own instance schema and then loaded with only the storage swapped for SQLite, so the effective
run queue, pools, retries and compute-log manager are the ones Dagster builds from it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import PoolGranularity, dagster_instance_config
from dagster._core.instance.ref import InstanceRef

from tests.infra.files import INFRA, load_yaml

PG_ENV = ["DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"]


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    shutil.copy(INFRA / "dagster.yaml", tmp_path / "dagster.yaml")
    return tmp_path


@pytest.fixture
def effective_instance(instance_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The instance Dagster builds from infra/dagster.yaml, on SQLite instead of PostgreSQL."""
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", "dagster-compute-logs")
    monkeypatch.setenv("VP_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("VP_S3_REGION", "us-east-1")
    ref = InstanceRef.from_dir(
        str(instance_dir), overrides={"storage": {"sqlite": {"base_dir": str(instance_dir)}}}
    )
    instance = DagsterInstance.from_ref(ref)
    yield instance
    instance.dispose()


def test_passes_dagsters_instance_schema(instance_dir: Path) -> None:
    config, custom_class = dagster_instance_config(str(instance_dir))
    assert custom_class is None
    assert {"storage", "run_queue", "concurrency", "run_retries", "compute_logs", "run_launcher"} <= set(
        config
    )


def test_a_misspelled_key_is_refused_by_the_same_check(instance_dir: Path) -> None:
    # Guards the test above: the schema check really rejects what Dagster would reject.
    text = (instance_dir / "dagster.yaml").read_text().replace("run_retries:", "run_retry:")
    (instance_dir / "dagster.yaml").write_text(text)
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(instance_dir))


def test_postgres_connection_comes_only_from_the_environment(production_instance: dict[str, Any]) -> None:
    pg = production_instance["storage"]["postgres"]["postgres_db"]
    assert {field: pg[field] for field in ("hostname", "port", "username", "password", "db_name")} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    documented = (INFRA / "env" / "dagster.env.example").read_text()
    for name in PG_ENV:
        assert f"\n{name}=" in documented, f"{name} is missing from infra/env/dagster.env.example"


def test_load_target_pool_admits_one_run_at_a_time(effective_instance) -> None:
    pools = effective_instance.get_concurrency_config().pool_config
    # `run` granularity: the limit counts runs holding a load_target step, so the k6 segments
    # inside one run are not serialized, while a second RC's load test waits in the queue.
    assert pools.pool_granularity == PoolGranularity.RUN
    assert pools.default_pool_limit == 1


def test_runs_are_queued_with_limits(effective_instance) -> None:
    assert type(effective_instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    queue = effective_instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 10
    assert queue.should_block_op_concurrency_limited_runs, (
        "pool limits are only enforced when runs can be blocked"
    )
    assert {"key": "dagster/backfill", "limit": 4} in queue.tag_concurrency_limits
    assert queue.max_user_code_failure_retries == 3


def test_crashed_runs_are_retried_but_failed_gates_are_not(effective_instance) -> None:
    assert effective_instance.run_retries_enabled
    assert effective_instance.run_retries_max_retries == 2
    assert effective_instance.run_retries_retry_on_asset_or_op_failure is False
    assert effective_instance.run_monitoring_enabled, (
        "a vanished run worker is only noticed (and retried) with monitoring"
    )


def test_step_logs_go_to_object_storage(effective_instance) -> None:
    assert type(effective_instance.compute_log_manager).__name__ == "S3ComputeLogManager"
    assert type(effective_instance.run_launcher).__name__ == "DefaultRunLauncher"


def test_helm_values_carry_the_same_policy(
    production_instance: dict[str, Any], helm_values: dict[str, Any]
) -> None:
    pools = production_instance["concurrency"]["pools"]
    runs = production_instance["concurrency"]["runs"]
    chart = helm_values["concurrency"]
    assert chart["enabled"] is True, "the chart renders `concurrency` only when enabled"
    assert (chart["pools"]["granularity"], chart["pools"]["defaultLimit"]) == (
        pools["granularity"],
        pools["default_limit"],
    )
    assert chart["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert chart["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    retries = production_instance["run_retries"]
    chart_retries = helm_values["dagsterDaemon"]["runRetries"]
    assert (
        chart_retries["enabled"],
        chart_retries["maxRetries"],
        chart_retries["retryOnAssetOrOpFailure"],
    ) == (
        retries["enabled"],
        retries["max_retries"],
        retries["retry_on_asset_or_op_failure"],
    )
    queued = helm_values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    # The chart fails the install when run limits are set both here and under `concurrency`.
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued)


def test_explicit_pool_limit_is_set_on_every_deployment_path(compose: dict[str, Any]) -> None:
    # Until the pool has a row in storage, the first dequeue pass does not apply default_limit.
    expected = ["dagster", "instance", "concurrency", "set", "load_target", "1"]
    assert compose["services"]["instance-init"]["command"] == expected
    job = load_yaml(INFRA / "k8s" / "pool-limits-job.yaml")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == expected
