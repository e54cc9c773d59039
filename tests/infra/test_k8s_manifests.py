"""Kubernetes manifests validate offline against the pinned Kubernetes version's schemas.

Two sets: the manifests in infra/k8s/, and the Jobs that Dagster itself will create from our
values. The official chart's own templates cannot be rendered here (neither Helm nor the chart
can be downloaded), but the run-worker and step Jobs can: dagster-k8s's `construct_dagster_k8s_job`
builds them from the run launcher's runK8sConfig (infra/helm/values.yaml), the code location's
container context (infra/helm/user-deployments-values.yaml) and the k8s_job_executor config
(infra/k8s/run-config/load-test-executor.yaml), exactly as K8sRunLauncher and k8s_job_executor do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import kubernetes_validate
import pytest
from dagster._config import process_config
from dagster_k8s import k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

from tests.infra.files import INFRA, KUBERNETES_VERSION, load_yaml, load_yaml_documents, run_tool, venv_tool

MANIFESTS = sorted((INFRA / "k8s").glob("*.yaml"))
EXECUTOR_CONFIG = INFRA / "k8s" / "run-config" / "load-test-executor.yaml"
LOAD_STEPS = ["read_load_samples", "write_load_samples"]


def validate_strict(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def executor_config() -> dict[str, Any]:
    return load_yaml(EXECUTOR_CONFIG)["execution"]["config"]


def job_config(helm_values: dict[str, Any], code_location: dict[str, Any]) -> DagsterK8sJobConfig:
    """What K8sRunLauncher passes for every Job: chart-level settings plus the code location's context."""
    launcher = helm_values["runLauncher"]["config"]["k8sRunLauncher"]
    image = code_location["image"]
    return DagsterK8sJobConfig(
        job_image=f"{image['repository']}:{image['tag']}",
        dagster_home="/opt/dagster/dagster_home",
        image_pull_policy=launcher["imagePullPolicy"],
        service_account_name="dagster",
        instance_config_map="dagster-instance",
        postgres_password_secret=helm_values["global"]["postgresqlSecretName"],
        env_config_maps=[c["name"] for c in launcher["envConfigMaps"] + code_location["envConfigMaps"]],
        env_secrets=[s["name"] for s in launcher["envSecrets"] + code_location["envSecrets"]],
        volume_mounts=code_location.get("volumeMounts", []),
        volumes=code_location.get("volumes", []),
    )


def as_manifest(job: kubernetes.client.V1Job) -> dict[str, Any]:
    return kubernetes.client.ApiClient().sanitize_for_serialization(job)


def render_run_worker_job(helm_values: dict[str, Any], code_location: dict[str, Any]) -> dict[str, Any]:
    run_k8s = helm_values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    user_config = UserDefinedDagsterK8sConfig.from_dict(
        {
            "container_config": run_k8s["containerConfig"],
            "pod_spec_config": run_k8s["podSpecConfig"],
            "job_spec_config": run_k8s["jobSpecConfig"],
        }
    )
    job = construct_dagster_k8s_job(
        job_config(helm_values, code_location),
        args=["dagster", "api", "execute_run", "{}"],
        job_name="dagster-run-0123456789abcdef",
        user_defined_k8s_config=user_config,
        component="run_worker",
        env_vars=code_location.get("env", []),
    )
    return as_manifest(job)


def render_step_job(
    helm_values: dict[str, Any], code_location: dict[str, Any], op_name: str
) -> dict[str, Any]:
    """The Job k8s_job_executor creates for one step: step_k8s_config, then the op's own override."""
    config = executor_config()
    context = K8sContainerContext(
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"])
    )
    per_op = config["per_step_k8s_config"].get(op_name, {})
    context = context.merge(K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(per_op)))
    job = construct_dagster_k8s_job(
        job_config(helm_values, code_location),
        args=["dagster", "api", "execute_step", "{}"],
        job_name="dagster-step-0123456789abcdef",
        user_defined_k8s_config=context.run_k8s_config,
        component="step_worker",
        labels={"dagster/op": op_name},
        env_vars=code_location.get("env", []),
    )
    return as_manifest(job)


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_validates_with_kubernetes_validate_cli(path: Path) -> None:
    result = run_tool(venv_tool("kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_a_misspelled_field_fails_strict_validation() -> None:
    (job,) = load_yaml_documents(INFRA / "k8s" / "pool-limits-job.yaml")
    job["spec"]["template"]["spec"]["restartPolicyy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_strict(job)


def test_manifests_run_as_non_root_and_reference_secrets_by_name() -> None:
    for path in MANIFESTS:
        for doc in load_yaml_documents(path):
            assert doc["kind"] != "Secret", f"{path.name}: Secrets are created out of band, never committed"
            if doc["kind"] != "Job":
                continue
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
                for env in container.get("env", []):
                    if any(word in env["name"] for word in ("PASSWORD", "SECRET", "TOKEN", "JWT")):
                        assert "valueFrom" in env, f"{path.name}: {env['name']} must come from a Secret"


def test_executor_config_fits_k8s_job_executor() -> None:
    result = process_config(k8s_job_executor.config_schema.config_type, executor_config())
    assert result.success, result.errors


def test_executor_config_names_every_load_step() -> None:
    # The lead's load assets must keep these op names, or their pods fall back to step defaults.
    assert sorted(executor_config()["per_step_k8s_config"]) == LOAD_STEPS


def test_rendered_run_worker_job_validates(
    helm_values: dict[str, Any], code_location: dict[str, Any]
) -> None:
    manifest = render_run_worker_job(helm_values, code_location)
    validate_strict(manifest)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert pod["securityContext"]["runAsUser"] == 10001


@pytest.mark.parametrize("op_name", LOAD_STEPS)
def test_rendered_load_step_job_validates(
    helm_values: dict[str, Any], code_location: dict[str, Any], op_name: str
) -> None:
    manifest = render_step_job(helm_values, code_location, op_name)
    validate_strict(manifest)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # The per-step override wins over the step default for the k6 pods...
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "2Gi"}
    # ...while the step defaults it does not override still apply.
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert manifest["spec"]["backoffLimit"] == 0, "Kubernetes must not rerun a load segment on its own"
    anti_affinity = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti_affinity[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    # Credentials reach the pod by reference only.
    sources = {s.get("secretRef", {}).get("name") for s in container["envFrom"]} - {None}
    assert sources == {
        "verification-pipeline-s3",
        "verification-pipeline-target",
        "verification-pipeline-signing-key",
    }


def test_other_steps_get_the_step_defaults(
    helm_values: dict[str, Any], code_location: dict[str, Any]
) -> None:
    manifest = render_step_job(helm_values, code_location, "slo_metrics")
    validate_strict(manifest)
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi"}
