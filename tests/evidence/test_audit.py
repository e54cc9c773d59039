"""Audit: the signed figures must follow from the signed raw measurements."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from tests.evidence.conftest import RC, BuildBundle, evidence_files, parquet, raw_frames, recompute_for_tests
from verification_pipeline.audit.recompute import audit_files, audit_path, lineage_lines
from verification_pipeline.errors import FormatError, InputError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.layout import sha256_hex
from verification_pipeline.evidence.raw import MAX_RAW_ROWS


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


@pytest.mark.parametrize(
    ("signed_reason", "matches"),
    [
        (
            "p95 is 105.473 ms (lag-1 autocorrelation 0.022, effective n 312.714)",
            True,
        ),  # six digits, as before
        ("p95 is 105.473 ms (lag-1 autocorrelation 0.022, effective n 314)", False),  # another figure
        ("p95 is 105.473 ms (lag-1 autocorrelation 0.022, effective sample 313)", False),  # other words
    ],
)
def test_a_reason_signed_with_more_digits_still_audits_but_not_another_figure_or_words(
    build_bundle: BuildBundle, signed_reason: str, matches: bool
) -> None:
    def recompute(frames: dict[str, pl.DataFrame], recorded: dict | None = None) -> dict:
        # this release writes an effective n with three significant digits
        figures = recompute_for_tests(frames)
        figures["read"]["reason"] = "p95 is 105.473 ms (lag-1 autocorrelation 0.022, effective n 313)"
        return figures

    metrics = recompute_for_tests(raw_frames())
    metrics["read"]["reason"] = signed_reason
    report = audit_files(build_bundle(files=evidence_files(metrics=metrics)).files, recompute=recompute)
    assert report.matches is matches, report.differences
    if not matches:
        assert [d.field for d in report.differences] == ["read.reason"]


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
    assert "  k6  sha256:cccccccccccccccc" in lines  # a tool is listed by the digest of its binary
    assert any(line.startswith("  slos.yaml  sha256:") for line in lines)
    assert "slo/read.json  sha256:" in text and "<- raw/read.parquet  [run run-a]" in text


# --- hostile content: a clear error naming the file, never a traceback --------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"null", "holds a JSON NoneType, not an object"),
        (b"[1, 2]", "holds a JSON list, not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested more than 64 levels deep"),
        (b"", "the file is empty"),
    ],
    ids=["null", "list", "deep-100000", "deep-200", "empty"],
)
def test_a_malformed_metrics_document_is_refused_naming_it(
    content: bytes, message: str, build_bundle: BuildBundle
) -> None:
    files = evidence_files()
    files["slo/metrics.json"] = content
    with pytest.raises(FormatError, match=rf"^slo/metrics\.json: {message}"):
        audit_files(build_bundle(files=files).files, recompute=recompute_for_tests)


def test_metrics_without_the_slos_it_was_computed_with_are_refused_by_the_real_recomputation(
    bundle: EvidenceBundle,
) -> None:
    with pytest.raises(FormatError, match=r"slo/metrics\.json \[spec\.yaml\]: missing"):
        audit_files(bundle.files)


def test_a_lineage_that_is_not_an_object_is_refused(bundle: EvidenceBundle) -> None:
    files = dict(bundle.files)
    files["lineage.json"] = b'"just a string"'
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        if entry["name"] == "lineage.json":
            entry["sha256"] = sha256_hex(files["lineage.json"])
    files["manifest.json"] = json.dumps(manifest).encode()
    with pytest.raises(FormatError, match=r"^lineage\.json: holds a JSON str, not an object"):
        audit_files(files, recompute=recompute_for_tests)


def _with_raw(build_bundle: BuildBundle, name: str, frame: pl.DataFrame) -> dict[str, bytes]:
    files = evidence_files()
    files[name] = parquet(frame)
    return dict(build_bundle(files=files).files)


@pytest.mark.parametrize("bad", [-5.0, float("nan"), float("inf")], ids=["negative", "nan", "infinite"])
@pytest.mark.parametrize("stem", ["read", "fanout"])
def test_raw_latencies_that_are_not_durations_are_refused_as_ingestion_refuses_them(
    bad: float, stem: str, build_bundle: BuildBundle
) -> None:
    frame = raw_frames()[stem]
    frame = frame.with_columns(
        latency_ms=pl.when(pl.int_range(pl.len()) == 2).then(bad).otherwise(pl.col("latency_ms"))
    )
    with pytest.raises(FormatError, match=rf"raw/{stem}\.parquet: row 2: latency_ms .* is not a duration"):
        audit_files(_with_raw(build_bundle, f"raw/{stem}.parquet", frame), recompute=recompute_for_tests)


def test_raw_parquet_in_another_schema_is_refused_naming_its_columns(build_bundle: BuildBundle) -> None:
    frame = pl.DataFrame({"op": ["read"], "latency_ms": [1.0]})
    with pytest.raises(FormatError, match=r"raw/read\.parquet: columns \{op: String, latency_ms: Float64\}"):
        audit_files(_with_raw(build_bundle, "raw/read.parquet", frame), recompute=recompute_for_tests)


def test_a_raw_file_the_pipeline_does_not_record_is_refused(build_bundle: BuildBundle) -> None:
    files = evidence_files()
    files["raw/other.parquet"] = files["raw/read.parquet"]
    with pytest.raises(FormatError, match=r"raw/other\.parquet: not a raw measurement this pipeline records"):
        audit_files(build_bundle(files=files).files, recompute=recompute_for_tests)


def test_a_small_parquet_file_claiming_too_many_rows_is_refused_before_it_is_read(
    build_bundle: BuildBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("verification_pipeline.evidence.raw.MAX_RAW_ROWS", 4)
    monkeypatch.setattr(
        "verification_pipeline.audit.recompute.pl.read_parquet",
        lambda *a, **k: pytest.fail("the rows were read before the row count was checked"),
    )
    with pytest.raises(FormatError, match=r"raw/fanout\.parquet: 5 rows is over the 4-row limit"):
        audit_files(build_bundle().files, recompute=recompute_for_tests)


def test_a_million_constant_rows_in_a_few_kilobytes_hit_the_real_row_cap(build_bundle: BuildBundle) -> None:
    # The shape of a Parquet bomb: constant columns compress to almost nothing.
    n = MAX_RAW_ROWS + 1
    frame = pl.select(
        timestamp=pl.lit(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).dt.cast_time_unit("us"),
        op=pl.lit("read"),
        latency_ms=pl.lit(1.0),
        status=pl.lit(200, pl.Int32),
        ok=pl.lit(True),
        failure=pl.lit(None, pl.String),
        scenario=pl.lit("read"),
        segment=pl.lit("0:1"),
        ingest_ms=pl.lit(None, pl.Float64),
    ).select(pl.all().repeat_by(n).explode())
    data = parquet(frame)
    assert len(data) < 1 << 20
    with pytest.raises(FormatError, match=r"raw/read\.parquet: 20,000,001 rows is over"):
        audit_files(_with_raw(build_bundle, "raw/read.parquet", frame), recompute=recompute_for_tests)


def test_byte_flipped_parquet_is_read_or_refused_naming_it_never_a_panic() -> None:
    # A crafted Parquet footer can make polars' reader panic (PanicException, a BaseException):
    # seed 1 hits several within these cases, so the audit must catch that too.
    import random

    from verification_pipeline.evidence.raw import raw_frame

    data = parquet(raw_frames()["read"])
    rng = random.Random(1)
    refused = 0
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        if rng.random() < 0.2:
            mutated = mutated[: rng.randrange(len(mutated))]
        try:
            raw_frame(bytes(mutated), "raw/read.parquet")
        except FormatError as error:
            assert str(error).startswith("raw/read.parquet: ")
            refused += 1
    assert refused > 300
