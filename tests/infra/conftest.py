"""Fixtures for the deployment-file tests: the parsed infra/ files they share."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.files import INFRA, load_yaml


@pytest.fixture(scope="session")
def helm_values() -> dict[str, Any]:
    return load_yaml(INFRA / "helm" / "values.yaml")


@pytest.fixture(scope="session")
def user_deployment_values() -> dict[str, Any]:
    return load_yaml(INFRA / "helm" / "user-deployments-values.yaml")


@pytest.fixture(scope="session")
def code_location(user_deployment_values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = user_deployment_values["deployments"]
    return deployment


@pytest.fixture(scope="session")
def production_instance() -> dict[str, Any]:
    return load_yaml(INFRA / "dagster.yaml")


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_yaml(INFRA / "compose.yaml")
