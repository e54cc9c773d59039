"""A complete, realistic bundle (real Parquet, every expected file) and the keys that sign it."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from verification_pipeline.evidence.bundle import EvidenceBundle, LineageStep, assemble_bundle
from verification_pipeline.evidence.bundle_io import write_archive, write_directory
from verification_pipeline.evidence.keys import (
    KeyPairFiles,
    SigningKey,
    generate_key_pair,
    load_signing_key_file,
)
from verification_pipeline.evidence.layout import expected_files
from verification_pipeline.evidence.statements import (
    GateOutcome,
    ProvenanceInputs,
    ReleaseCandidate,
    Verdict,
    resource_descriptor,
    tool_descriptor,
)
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA

RC = ReleaseCandidate(tag="v24.1.0-rc1", commit="3f2a9c0d1e4b5a6978877665544332211aabbccd", version="v24.1")
OTHER_RC = ReleaseCandidate(
    tag="v24.1.0-rc2", commit="4e3b0d1f2a5c6b7a8988776655443322aabbccdd", version="v24.1"
)
STARTED = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
FINISHED = dt.datetime(2025, 3, 1, 12, 4, 30, tzinfo=dt.UTC)
SLOS_YAML = b"slos:\n  - name: read_p95\n    threshold_ms: 350\n"
READ_SCRIPT = b"// k6 read script\n"


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _samples(op: str, latencies: list[float]) -> pl.DataFrame:
    start = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    n = len(latencies)
    return pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(milliseconds=100 * i) for i in range(n)],
            "op": [op] * n,
            "latency_ms": latencies,
            "status": [200] * n,
            "ok": [True] * n,
            "failure": [None] * n,
            "scenario": [op] * n,
            "segment": ["0:1"] * n,
            "ingest_ms": [None] * n,
        },
        schema=SAMPLE_SCHEMA,
    )


def _deliveries(latencies: list[float]) -> pl.DataFrame:
    start = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    n = len(latencies)
    return pl.DataFrame(
        {
            "subscriber": list(range(n)),
            "event_id": [f"e{i}" for i in range(n)],
            "seq": list(range(n)),
            "published_at": [start] * n,
            "received_at": [start + dt.timedelta(milliseconds=v) for v in latencies],
            "latency_ms": latencies,
            "status": ["delivered"] * n,
        },
        schema=DELIVERY_SCHEMA,
    )


def raw_frames() -> dict[str, pl.DataFrame]:
    """Raw measurements in the schemas the pipeline writes (audit refuses any other)."""
    return {
        "read": _samples("read", [110.0, 120.5, 98.25, 301.0, 150.0, 133.3]),
        "write": _samples("write", [210.0, 250.5, 402.0, 199.9]),
        "fanout": _deliveries([20.0, 35.5, 41.0, 18.2, 60.0]),
    }


def recompute_for_tests(
    frames: dict[str, pl.DataFrame], recorded: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Stands in for the SLO module in these tests: count and linear-interpolated p95 per op."""
    return {
        name: {"count": frame.height, "p95_ms": frame["latency_ms"].quantile(0.95, "linear")}
        for name, frame in sorted(frames.items())
    }


def evidence_files(version: str = RC.version, metrics: dict[str, Any] | None = None) -> dict[str, bytes]:
    frames = raw_frames()
    metrics = recompute_for_tests(frames) if metrics is None else metrics
    files = {name: f"{name}: evidence for {version}\n".encode() for name in expected_files(version)}
    files.update({f"raw/{name}.parquet": parquet(frame) for name, frame in frames.items()})
    files["slo/metrics.json"] = json.dumps(metrics, indent=2).encode()
    return files


def provenance(run_id: str = "2b7e5f0c-1111-4d2a-9a0b-6d5c4b3a2f10") -> ProvenanceInputs:
    return ProvenanceInputs(
        run_id=run_id,
        started_on=STARTED,
        finished_on=FINISHED,
        external_parameters={"source": "run", "targetUrl": "http://127.0.0.1:4000/graphql", "vus": 10},
        resolved_dependencies=[
            resource_descriptor("slos.yaml", data=SLOS_YAML),
            resource_descriptor("k6/graphql_read.js", data=READ_SCRIPT),
            tool_descriptor("k6", "v1.1.0", binary_sha256="c" * 64),
            tool_descriptor("syft", "1.18.1", binary_sha256="d" * 64),
        ],
        builder_version={"verification-pipeline": "0.1.0", "dagster": "1.13.27"},
    )


# The read SLO's figures for each verdict it may be signed with (`verify` recomputes the verdict
# from them): a FAIL's lower bound above the threshold, a PASS's upper bound at or below it.
_READ_FIGURES = {
    "PASS": {"value": 301.0, "ci_low": 280.0, "ci_high": 330.0},
    "INCONCLUSIVE": {"value": 340.0, "ci_low": 310.0, "ci_high": 380.0},
    "FAIL": {"value": 401.0, "ci_low": 380.0, "ci_high": 430.0},
}


def outcomes(verdict: Verdict = "PASS") -> list[GateOutcome]:
    read = {
        **_READ_FIGURES.get(verdict, _READ_FIGURES["INCONCLUSIVE"]),
        "threshold": 350.0,
        "unit": "ms",
        "n": 6,
        "min_samples": 5,
    }
    return [
        GateOutcome("slo:read_p95", verdict, read),
        GateOutcome(
            "slo:write_p95",
            "PASS",
            {"value": 402.0, "ci_high": 520.0, "threshold": 700.0, "unit": "ms", "n": 4, "min_samples": 4},
        ),
        GateOutcome(
            "scan:vulnerability_policy_met",
            "PASS",
            {**VULNERABILITY_FIGURES, "reason": "no Critical, no fixable High"},
        ),
    ]


VULNERABILITY_FIGURES = {
    "fail_on": ["Critical"],
    "fail_on_fixable": ["High"],
    "max_violations": 0,
    "by_severity": {"Critical": 1, "High": 3, "Medium": 7, "Low": 0},
    "fixable_by_severity": {"Critical": 1, "High": 0, "Medium": 2, "Low": 0},
    "waived": 1,
    "violations": 0,
}
"""A vulnerability gate's signed figures that make it PASS: the one Critical is waived."""


LINEAGE = [
    LineageStep("slo/read.json", ("raw/read.parquet",), asset_key="slo_metrics", run_id="run-a"),
    LineageStep(
        "slo/metrics.json", ("raw/read.parquet", "raw/write.parquet", "raw/fanout.parquet", "slos.yaml")
    ),
    LineageStep(
        "raw/read.parquet", ("k6/graphql_read.js", "k6"), asset_key="read_load_samples", run_id="run-a"
    ),
]


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return generate_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def signing_key(key_pair: KeyPairFiles) -> SigningKey:
    return load_signing_key_file(key_pair.private_key)


@pytest.fixture(scope="session")
def other_key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return generate_key_pair(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture(scope="session")
def other_signing_key(other_key_pair: KeyPairFiles) -> SigningKey:
    return load_signing_key_file(other_key_pair.private_key)


BuildBundle = Callable[..., EvidenceBundle]


@pytest.fixture(scope="session")
def build_bundle(signing_key: SigningKey) -> BuildBundle:
    def build(
        *,
        files: dict[str, bytes] | None = None,
        rc: ReleaseCandidate = RC,
        key: SigningKey = signing_key,
        gates: list[GateOutcome] | None = None,
        run_id: str = "2b7e5f0c-1111-4d2a-9a0b-6d5c4b3a2f10",
    ) -> EvidenceBundle:
        return assemble_bundle(
            evidence_files(rc.version) if files is None else files,
            release_candidate=rc,
            signing_key=key,
            provenance=provenance(run_id),
            outcomes=outcomes() if gates is None else gates,
            configuration=[resource_descriptor("slos.yaml", data=SLOS_YAML)],
            lineage=LINEAGE,
            created_at=FINISHED,
            url=f"s3://evidence/verification/{rc.tag}/{run_id}/evidence/{rc.version}/",
        )

    return build


@pytest.fixture(scope="session")
def bundle(build_bundle: BuildBundle) -> EvidenceBundle:
    return build_bundle()


@pytest.fixture
def bundle_dir(bundle: EvidenceBundle, tmp_path: Path) -> Path:
    """The bundle root directory (evidence/<version>), a fresh copy per test so tests can tamper."""
    return write_directory(bundle, tmp_path / "directory")


@pytest.fixture
def bundle_archive(bundle: EvidenceBundle, tmp_path: Path) -> Path:
    return write_archive(bundle, tmp_path / "bundle.tar.gz")
