"""Paths, loaders and tool runners for the deployment-file tests (everything under infra/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
VENV_BIN = Path(sys.executable).parent

# The Kubernetes version every manifest is validated against (kubernetes-validate ships its
# schemas, so this works offline). 1.30 is the oldest minor the main cloud providers still run.
KUBERNETES_VERSION = "1.30.0"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def venv_tool(name: str) -> str:
    """A tool installed in the project's environment (hadolint, check-jsonschema)."""
    candidate = VENV_BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} is not installed; run `uv sync` (it is a dev dependency in pyproject.toml)"
    return found


def run_tool(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
