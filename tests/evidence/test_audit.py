"""Audit: the signed figures must follow from the signed raw measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evidence.conftest import RC, BuildBundle, evidence_files, raw_frames, recompute_for_tests
from verification_pipeline.errors import FormatError, InputError, VerificationFailed
from verification_pipeline.evidence.audit import audit_files, audit_path, lineage_lines
from verification_pipeline.evidence.bundle import EvidenceBundle


def test_untouched_bundle_recomputes_to_the_recorded_metrics(bundle_dir: Path, bundle_archive: Path) -> None:
    for path in (bundle_dir, bundle_archive):
        report = audit_path(path, recompute=recompute_for_tests)
        assert report.matches, report.differences
        assert report.raw_rows == {"fanout": 5, "read": 6, "write": 4}


def test_metrics_that_do_not_follow_from_the_raw_data_are_reported(build_bundle: BuildBundle) -> None:
    metrics = recompute_for_tests(raw_frames())
    metrics["read"]["p95_ms"] += 5.0  # a producer bug, signed in good faith
    del metrics["fanout"]
    bundle = build_bundle(files=evidence_files(metrics=metrics))
    report = audit_files(bundle.files, recompute=recompute_for_tests)
    assert not report.matches
    by_field = {d.field: d for d in report.differences}
    assert set(by_field) == {"read.p95_ms", "fanout"}
    assert by_field["read.p95_ms"].recorded - by_field["read.p95_ms"].recomputed == pytest.approx(5.0)
    assert by_field["fanout"].recorded is None


def test_float_noise_within_tolerance_is_not_a_difference(build_bundle: BuildBundle) -> None:
    metrics = recompute_for_tests(raw_frames())
    metrics["write"]["p95_ms"] += 1e-9
    report = audit_files(
        build_bundle(files=evidence_files(metrics=metrics)).files, recompute=recompute_for_tests
    )
    assert report.matches


def test_raw_file_changed_after_signing_is_refused(bundle: EvidenceBundle) -> None:
    files = dict(bundle.files)
    files["raw/read.parquet"] = files["raw/write.parquet"]
    with pytest.raises(
        VerificationFailed, match=r"raw/read\.parquet: does not match its sha256 in manifest\.json"
    ):
        audit_files(files, recompute=recompute_for_tests)


def test_unlisted_raw_file_is_refused(bundle: EvidenceBundle) -> None:
    files = {**bundle.files, "raw/extra.parquet": bundle.files["raw/read.parquet"]}
    with pytest.raises(VerificationFailed, match=r"raw/extra\.parquet: not listed in manifest\.json"):
        audit_files(files, recompute=recompute_for_tests)


def test_corrupt_parquet_names_the_file(build_bundle: BuildBundle) -> None:
    files = evidence_files()
    files["raw/fanout.parquet"] = b"PAR1 not really"
    with pytest.raises(FormatError, match=r"raw/fanout\.parquet: not a readable Parquet file"):
        audit_files(build_bundle(files=files).files, recompute=recompute_for_tests)


def test_bundle_without_raw_measurements_cannot_be_audited(build_bundle: BuildBundle) -> None:
    files = {k: v for k, v in evidence_files().items() if not k.startswith("raw/")}
    with pytest.raises(InputError, match="no raw/\\*.parquet"):
        audit_files(build_bundle(files=files).files, recompute=recompute_for_tests)


def test_lineage_lines_show_inputs_outputs_digests_and_runs(bundle: EvidenceBundle) -> None:
    lines = lineage_lines(json.loads(bundle.files["lineage.json"]))
    text = "\n".join(lines)
    assert lines[0] == f"lineage of {RC.tag} (commit {RC.commit}), run {bundle.run_id}"
    assert "  k6  pkg:generic/k6@v1.1.0" in lines
    assert any(line.startswith("  slos.yaml  sha256:") for line in lines)
    assert "slo/read.json  sha256:" in text and "<- raw/read.parquet  [run run-a]" in text
