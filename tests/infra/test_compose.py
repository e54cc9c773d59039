"""infra/compose.yaml: valid against the Compose Specification schema, and wired the way it claims.

The schema check is check-jsonschema's vendored `vendor.compose-spec` (works offline). Docker
itself is not available here, so `docker compose config` and a real `up` are not run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.files import INFRA, load_yaml, run_tool, venv_tool

DAGSTER_SERVICES = ["code-server", "webserver", "daemon", "instance-init", "storage-init"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|JWT|ACCESS_KEY|SIGNING_KEY|PRIVATE_KEY", re.IGNORECASE)


def env_files(service: dict[str, Any]) -> list[str]:
    return [entry["path"] if isinstance(entry, dict) else entry for entry in service.get("env_file", [])]


def test_compose_spec_is_a_vendored_builtin_schema() -> None:
    result = run_tool(venv_tool("check-jsonschema"), "--help")
    assert "vendor.compose-spec" in result.stdout


def test_compose_validates_against_the_compose_spec() -> None:
    result = run_tool(
        venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(INFRA / "compose.yaml")
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = (
        (INFRA / "compose.yaml")
        .read_text()
        .replace("restart: unless-stopped", "restart: [unless-stopped]", 1)
    )
    (tmp_path / "compose.yaml").write_text(broken)
    result = run_tool(
        venv_tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(tmp_path / "compose.yaml"),
    )
    assert result.returncode == 1, result.stdout


def test_services_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"webserver", "daemon", "code-server", "postgres", "seaweedfs"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    for name in DAGSTER_SERVICES:
        # YAML merge keys are resolved by the loader: every Dagster service builds infra/Dockerfile.
        assert services[name]["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}, name
        assert services[name]["image"] == "verification-pipeline:local", name


def test_secrets_come_from_env_files_that_have_templates(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not SECRET_NAME.search(key), f"{name}: {key}={value!r} is inline; put it in an env file"
        for path in env_files(service):
            assert path.startswith("./env/") and path.endswith(".env"), path
            template = INFRA / (path.removeprefix("./") + ".example")
            assert template.is_file(), f"{name} reads {path} but {template.relative_to(INFRA)} is missing"
    assert (INFRA / "env" / ".gitignore").read_text().splitlines()[-1] == "*.env"


@pytest.mark.parametrize("template", sorted((INFRA / "env").glob("*.env.example")), ids=lambda p: p.name)
def test_env_templates_leave_every_secret_empty(template: Path) -> None:
    for line in template.read_text().splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if SECRET_NAME.search(key):
            assert value == "", f"{template.name}: {key} must be empty in the template"


def test_only_loopback_ports_are_published(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert set(published) == {"webserver", "seaweedfs"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_instance_and_workspace_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    workspace = load_yaml(INFRA / "compose" / "workspace.yaml")
    (location,) = workspace["load_from"]
    assert location["grpc_server"]["host"] == "code-server"
    # The code server listens where the image's CMD says; the workspace must point there.
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert f'"--port", "{location["grpc_server"]["port"]}"' in dockerfile
    assert "dagster-webserver" in services["webserver"]["command"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    for name in ("code-server", "webserver", "daemon", "instance-init"):
        assert "./dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro" in services[name]["volumes"], name
        assert "./env/dagster.env" in env_files(services[name]), name
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"]["code-server"]["condition"] == "service_healthy"
        for private in ("./env/target.env", "./env/signing.env"):
            assert private not in env_files(services[name]), f"only the code server needs {private}"
    assert (
        services["code-server"]["depends_on"]["instance-init"]["condition"]
        == "service_completed_successfully"
    )


def test_dagster_services_drop_privileges(compose: dict[str, Any]) -> None:
    for name in DAGSTER_SERVICES:
        service = compose["services"][name]
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
