"""The seed's five SLOs (the packaged slos.yaml) as the ops generators take them."""

from __future__ import annotations

import shutil

import pytest

from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget, from_spec
from verification_pipeline.slo.spec import default_slo_spec


@pytest.fixture
def seed_slos() -> list[SLOTarget]:
    return from_spec(default_slo_spec())


@pytest.fixture
def metrics() -> MetricsConfig:
    return MetricsConfig()


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, (
        "promtool not found: apt-get install -y --no-install-recommends prometheus (make test does this)"
    )
    return path
