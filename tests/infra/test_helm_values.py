"""Helm values for the official Dagster charts: the choices they must carry.

The charts' own values.schema.json cannot be fetched on these machines, so these tests check
our values' content and the concurrency block against a schema written from the chart's model.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.infra.files import INFRA, load_json, load_yaml

SCHEMAS = INFRA / "helm" / "schema"


def errors_of(validator: Any, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


@pytest.fixture(scope="module")
def helm_values() -> dict[str, Any]:
    return load_yaml(INFRA / "helm" / "values.yaml")


@pytest.fixture(scope="module")
def user_deployment_values() -> dict[str, Any]:
    return load_yaml(INFRA / "helm" / "user-deployments-values.yaml")


@pytest.fixture(scope="module")
def code_location(user_deployment_values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = user_deployment_values["deployments"]
    return deployment


def test_concurrency_block_fits_the_chart_model(helm_values: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(load_json(SCHEMAS / "dagster.concurrency.schema.json"))
    assert errors_of(validator, helm_values["concurrency"]) == []


def test_external_postgres_without_inline_password(helm_values: dict[str, Any]) -> None:
    postgresql = helm_values["postgresql"]
    assert postgresql["enabled"] is False
    assert postgresql["postgresqlHost"]
    assert postgresql["postgresqlPassword"] == ""
    assert helm_values["generatePostgresqlPasswordSecret"] is False
    assert helm_values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"


def test_runs_launch_as_kubernetes_jobs_with_s3_compute_logs(helm_values: dict[str, Any]) -> None:
    assert helm_values["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm_values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert helm_values["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"]


def test_one_image_and_one_code_location_everywhere(
    helm_values: dict[str, Any], user_deployment_values: dict[str, Any], code_location: dict[str, Any]
) -> None:
    images = {
        "webserver": helm_values["dagsterWebserver"]["image"],
        "daemon": helm_values["dagsterDaemon"]["image"],
        "code location": code_location["image"],
    }
    assert len({(i["repository"], i["tag"]) for i in images.values()}) == 1, images
    job = load_yaml(INFRA / "k8s" / "pool-limits-job.yaml")
    image = images["code location"]
    assert (
        job["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image['repository']}:{image['tag']}"
    )

    (server,) = helm_values["dagsterWebserver"]["workspace"]["servers"]
    assert (server["host"], server["port"]) == (code_location["name"], code_location["port"])
    assert "verification_pipeline.definitions" in code_location["codeServerArgs"]
    assert (
        user_deployment_values["global"]["postgresqlSecretName"]
        == helm_values["global"]["postgresqlSecretName"]
    )
    assert helm_values["dagster-user-deployments"]["enableSubchart"] is False


def test_webserver_listens_on_an_unprivileged_port(helm_values: dict[str, Any]) -> None:
    # The chart uses the Service port as the container port; the image's uid cannot bind below 1024.
    webserver = helm_values["dagsterWebserver"]
    assert webserver["service"]["port"] >= 1024
    assert webserver["readinessProbe"]["httpGet"]["port"] == webserver["service"]["port"]
    assert webserver["podSecurityContext"]["runAsUser"] == 10001


def test_code_location_runs_as_the_image_user(code_location: dict[str, Any]) -> None:
    pod = code_location["podSecurityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001, "the uid the Dockerfile creates"
    assert code_location["securityContext"]["allowPrivilegeEscalation"] is False
    assert code_location["includeConfigInLaunchedRuns"]["enabled"] is True
