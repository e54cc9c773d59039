"""`audit --baseline`: slo/baseline.json is recomputed from both bundles' raw rows; a changed figure is named."""

from __future__ import annotations

import io
import json
import random

import polars as pl
import pytest

from tests.compare.samples import load_frame, lognormal_ar1
from verification_pipeline.audit.recompute import audit_comparison
from verification_pipeline.compare.document import Samples, comparison_document
from verification_pipeline.errors import InputError
from verification_pipeline.evidence.layout import sha256_hex
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, default_slo_spec

INFO = {"rc": "v24.1.0-rc1", "bundle_uri": "s3://b/rc1/", "commit": "c1", "verified": True}


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _with_manifest(files: dict[str, bytes], tag: str, commit: str) -> dict[str, bytes]:
    manifest = {
        "releaseCandidate": {"tag": tag, "commit": commit, "version": "v24.1"},
        "files": [{"name": name, "sha256": sha256_hex(data)} for name, data in files.items()],
    }
    return {**files, "manifest.json": json.dumps(manifest).encode()}


@pytest.fixture(scope="module")
def bundles() -> tuple[dict, dict, dict]:
    rng = random.Random(12)
    current = load_frame(lognormal_ar1(rng, 3000, 0.3, scale=1.3), "read")
    baseline = load_frame(lognormal_ar1(rng, 3000, 0.3), "read")
    recorded = comparison_document(
        default_slo_spec(),
        rc="v24.1.0-rc2",
        current=Samples(read=current),
        baseline=Samples(read=baseline),
        baseline_info=INFO,
    )
    metrics = {"spec": {"source": "slos.yaml", "yaml": DEFAULT_SLOS_PATH.read_text()}}
    current_files = {
        "raw/read.parquet": _parquet(current),
        "slo/metrics.json": json.dumps(metrics).encode(),
        "slo/baseline.json": json.dumps(recorded).encode(),
    }
    baseline_files = _with_manifest({"raw/read.parquet": _parquet(baseline)}, "v24.1.0-rc1", "c1")
    return current_files, baseline_files, recorded


def test_the_recorded_comparison_follows_from_both_bundles_raw_rows(bundles) -> None:
    current_files, baseline_files, _ = bundles
    assert audit_comparison(_with_manifest(current_files, "v24.1.0-rc2", "c2"), baseline_files) == ()


def test_a_changed_figure_is_named(bundles) -> None:
    current_files, baseline_files, recorded = bundles
    edited = json.loads(json.dumps(recorded))
    edited["slos"][0]["p_value"] = 0.5
    files = _with_manifest(
        {**current_files, "slo/baseline.json": json.dumps(edited).encode()}, "v24.1.0-rc2", "c2"
    )
    differences = audit_comparison(files, baseline_files)
    assert [d.field for d in differences] == ["slos[0].p_value"]
    assert differences[0].recorded == 0.5


def test_the_wrong_baseline_bundle_is_refused_naming_the_right_one(bundles) -> None:
    current_files, _, _ = bundles
    other = _with_manifest({"raw/read.parquet": current_files["raw/read.parquet"]}, "v24.1.0-rc0", "c0")
    with pytest.raises(
        InputError, match=r"compares with v24.1.0-rc1 \(commit c1\), but this bundle is v24.1.0-rc0"
    ):
        audit_comparison(_with_manifest(current_files, "v24.1.0-rc2", "c2"), other)
