"""The whole job against the real target and a real SeaweedFS, on a throwaway Dagster instance."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from verification_pipeline.defs.load.assets import load_run_config
from verification_pipeline.evidence.keys import generate_key_pair
from verification_pipeline.stack.control import DEMO_REPORTS

RC = "v24.1.0-rc1"

# Short load runs cannot show an error rate <= 0.1 % (that needs 3,688 failure-free requests),
# so these scenarios judge a looser, explicit SLO set: the verdict logic is what is tested.
TEST_SLOS = """
version: 1
confidence: 0.95
slos:
  - {name: read_latency_p95, metric: quantile, source: read, quantile: 0.95, threshold: 350, unit: ms, min_samples: 100}
  - {name: write_latency_p95, metric: quantile, source: write, quantile: 0.95, threshold: 700, unit: ms, min_samples: 50}
  - {name: error_rate, metric: rate, source: all, threshold: 2, unit: percent, min_samples: 200}
  - {name: fanout_latency_p95, metric: quantile, source: fanout, quantile: 0.95, threshold: 250, unit: ms, min_samples: 50}
  - {name: ingest_latency_p95, metric: quantile, source: ingest, quantile: 0.95, threshold: 500, unit: ms, min_samples: 50}
"""


def short_run_config(duration: str = "3s", subscribers: int = 4, events: int = 120) -> dict:
    """A short run whose samples can still show a pass. The fan-out latencies of one event are
    shared by its subscribers (n_eff is near the number of events, not deliveries), and p95
    has an upper bound at 95 % only from 59 independent samples on: 120 events, not 25."""
    load = load_run_config({"duration": duration, "read_vus": 4, "write_vus": 2})
    return {
        "ops": {**load["ops"], "fanout_latencies": {"config": {"subscribers": subscribers, "events": events}}}
    }


@dataclass
class PipelineEnv:
    signing_public_key: Path
    signing_private_pem: str
    slos_file: Path


@pytest.fixture
def pipeline_env(s3_stack, target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineEnv:
    for key, value in s3_stack.env.items():
        if key.startswith("VP_S3_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("VP_S3_PREFIX", f"pipeline-{tmp_path.name}")
    monkeypatch.setenv("VP_TARGET_GRAPHQL_URL", target.graphql_url)
    monkeypatch.setenv("VP_TARGET_JWT", target.token())
    monkeypatch.delenv("VP_TARGET_JWT_SECRET_FILE", raising=False)
    monkeypatch.delenv("VP_EVIDENCE_DEV_KEY_DIR", raising=False)
    keys = generate_key_pair(tmp_path / "keys")
    private_pem = keys.private_key.read_text()
    monkeypatch.setenv("VP_EVIDENCE_SIGNING_KEY", private_pem)
    slos = tmp_path / "slos.yaml"
    slos.write_text(TEST_SLOS)
    monkeypatch.setenv("VP_SLOS_FILE", str(slos))
    for name, path in DEMO_REPORTS.items():
        monkeypatch.setenv(name, path)
    return PipelineEnv(signing_public_key=keys.public_key, signing_private_pem=private_pem, slos_file=slos)


@pytest.fixture
def instance(tmp_path: Path):
    home = tmp_path / "dagster"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


def definitions() -> dg.Definitions:
    """The code location for the environment the test set up (settings are read at load, not import)."""
    from verification_pipeline.definitions import build_definitions

    return build_definitions(os.environ)
