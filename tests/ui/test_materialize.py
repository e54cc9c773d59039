"""Materialize one RC through the webserver's GraphQL API, as the UI's Materialize button does,
then read back what the UI shows: materializations with their S3 URI and digest, the asset
checks and their evaluations, and the asset dependencies.

What is expected is computed from `verification_pipeline.definitions.defs` at test time, so the
test keeps up as assets and checks are added to the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dagster as dg
import pytest

from tests.plugins.webserver import JOB_NAME, DagsterUI, describe_failures, launch_and_wait, step_failures
from verification_pipeline.storage.s3 import ObjectStore, parse_s3_uri

pytestmark = pytest.mark.slow

RC = "v24.1.0-rc1"
# What the Materialize button sends: no executor config, so the code location's default executor
# (multiprocess, steps forked from a preloaded forkserver: verification_pipeline/defs/executor.py).
RUN_CONFIG: dict = {}

MATERIALIZATIONS = """
query PartitionMaterializations($assetKey: AssetKeyInput!, $partition: String!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(partitions: [$partition], limit: 1) {
        runId
        partition
        metadataEntries {
          __typename
          label
          ... on UrlMetadataEntry { url }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}
"""

# Every asset node of the location: its dependencies, jobs and checks.
ASSET_NODES = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    isPartitioned
    jobNames
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks { name blocking jobNames }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!, $partition: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, partition: $partition, limit: 1) {
    runId
    status
    partition
    evaluation { success }
  }
}
"""


@dataclass(frozen=True)
class ExpectedGraph:
    """What the Definitions object says the UI must show."""

    materialized: frozenset[str]
    checks: dict[tuple[str, str], bool]
    """(asset, check name) -> blocking"""
    dependencies: dict[str, frozenset[str]]


def _key(path: list[str]) -> str:
    return dg.AssetKey(path).to_user_string()


def expected_graph() -> ExpectedGraph:
    from verification_pipeline.definitions import defs as load_defs

    defs = load_defs()

    graph = defs.resolve_asset_graph()
    job = defs.resolve_job_def(JOB_NAME)
    materialized = {k for k in job.asset_layer.selected_asset_keys if graph.get(k).is_materializable}
    checks = {
        (c.asset_key.to_user_string(), c.name): graph.get_check_spec(c).blocking
        for c in graph.get_check_keys_for_assets(materialized)
    }
    dependencies = {
        key.to_user_string(): frozenset(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    return ExpectedGraph(frozenset(k.to_user_string() for k in materialized), checks, dependencies)


@pytest.fixture(scope="module")
def materialized_run(dagster_ui: DagsterUI) -> str:
    """The run the UI launched for the RC; it must succeed, or stop only on a failed blocking check.

    A blocking check that fails (release_decision's `promotable` on an RC that is not PASS) fails
    its step and so the run, by design: that is the verdict, not a broken pipeline. Any other step
    failure is. Which outcome the embedded stack gives depends on the measured figures.
    """
    run_id, status = launch_and_wait(dagster_ui, RC, RUN_CONFIG)
    if status == "SUCCESS":
        return run_id
    failures = step_failures(dagster_ui, run_id)
    assert status == "FAILURE" and failures, f"run {run_id} ended {status}\n{dagster_ui.log_tail()}"
    broken = [f for f in failures if f["error"]["className"] != "DagsterAssetCheckFailedError"]
    assert broken == [], f"run {run_id} failed:\n{describe_failures(broken)}"
    return run_id


def _asset_key_input(asset: str) -> dict:
    return {"path": dg.AssetKey.from_user_string(asset).path}


def _materialization_problems(ui: DagsterUI, store: ObjectStore, asset: str, run_id: str) -> list[str]:
    """What is wrong with the UI's latest materialization of `asset` for the RC (nothing: [])."""
    answer = ui.graphql(MATERIALIZATIONS, {"assetKey": _asset_key_input(asset), "partition": RC})[
        "assetOrError"
    ]
    if answer["__typename"] != "Asset" or not answer["assetMaterializations"]:
        return [f"{asset}: no materialization for {RC}"]
    (materialization,) = answer["assetMaterializations"]
    if materialization["runId"] != run_id or materialization["partition"] != RC:
        return [
            f"{asset}: latest materialization is run {materialization['runId']} partition {materialization['partition']}"
        ]
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    if entries.get("uri", {}).get("__typename") != "UrlMetadataEntry" or "sha256" not in entries:
        return [f"{asset}: metadata has no uri (url) and sha256, only {sorted(entries)}"]
    uri, sha256 = entries["uri"]["url"], entries["sha256"].get("text", "")
    bucket, key = parse_s3_uri(uri)
    if bucket != store.bucket or f"/{RC}/" not in f"/{key}":
        return [f"{asset}: {uri} is not under {RC} in bucket {store.bucket}"]
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return [f"{asset}: sha256 {sha256!r} is not a hex SHA-256"]
    # what the UI links to is really there, with the digest the UI shows (get_bytes checks it)
    store.get_bytes(key, expected_sha256=sha256, version_id=entries.get("s3_version_id", {}).get("text"))
    return []


def test_every_asset_of_the_partition_is_materialized_with_uri_and_digest(
    dagster_ui: DagsterUI, materialized_run: str, s3_stack
):
    expected = expected_graph()
    assert expected.materialized, "the job materializes no asset"
    store = s3_stack.store()
    problems = [
        p
        for asset in sorted(expected.materialized)
        for p in _materialization_problems(dagster_ui, store, asset, materialized_run)
    ]
    assert not problems, "\n".join(problems)


def test_asset_checks_are_listed_and_evaluated_for_the_partition(
    dagster_ui: DagsterUI, materialized_run: str
):
    expected = expected_graph()
    listed = {}
    for node in dagster_ui.graphql(ASSET_NODES)["assetNodes"]:
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", f"{_key(node['assetKey']['path'])}: {checks}"
        listed |= {
            (_key(node["assetKey"]["path"]), c["name"]): c["blocking"]
            for c in checks["checks"]
            if JOB_NAME in c["jobNames"]
        }
    assert listed == expected.checks

    problems = []
    for asset, check in sorted(expected.checks):
        executions = dagster_ui.graphql(
            CHECK_EXECUTIONS,
            {
                "assetKey": _asset_key_input(asset),
                "checkName": check,
                "partition": RC,
            },
        )["assetCheckExecutions"]
        if not executions:
            problems.append(f"{asset}:{check}: no execution recorded for partition {RC}")
            continue
        (execution,) = executions
        evaluation = execution["evaluation"] or {}
        # a failed check is still evidence; what must not happen is a check that never evaluated
        if execution["runId"] != materialized_run or execution["status"] not in ("SUCCEEDED", "FAILED"):
            problems.append(f"{asset}:{check}: run {execution['runId']} status {execution['status']}")
        elif evaluation.get("success") != (execution["status"] == "SUCCEEDED"):
            problems.append(
                f"{asset}:{check}: evaluation {evaluation} does not match status {execution['status']}"
            )
    assert not problems, "\n".join(problems)


def test_dependencies_shown_are_the_asset_graph_of_the_definitions(
    dagster_ui: DagsterUI, materialized_run: str
):
    expected = expected_graph()
    nodes = dagster_ui.graphql(ASSET_NODES)["assetNodes"]
    shown = {
        _key(n["assetKey"]["path"]): frozenset(_key(d["path"]) for d in n["dependencyKeys"]) for n in nodes
    }
    differing = {
        k: (sorted(shown.get(k, ())), sorted(expected.dependencies.get(k, ())))
        for k in shown.keys() | expected.dependencies.keys()
        if shown.get(k) != expected.dependencies.get(k)
    }
    assert differing == {}, "asset: (dependencies in the UI, dependencies in the Definitions)"
    for node in nodes:
        if _key(node["assetKey"]["path"]) in expected.materialized:
            assert node["isPartitioned"] and JOB_NAME in node["jobNames"], node["assetKey"]
