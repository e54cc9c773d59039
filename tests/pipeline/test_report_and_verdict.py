"""What a person looks at after a run: the signed report and k6's dashboards in the bundle, the
verdict as a run tag, release_decision's table and verify command, charts in the metadata, and
k6 progress in the run log. Against the real target and SeaweedFS, on a throwaway instance."""

from __future__ import annotations

import json
import re

import dagster as dg
import pytest

from tests.pipeline.conftest import RC, definitions, short_run_config
from verification_pipeline.defs.run_tags import BROKEN_STEP_TAG, VERDICT_TAG, incomplete_run_sensor
from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.keys import load_public_key_file
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.execution.runner import verify_in_process
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import S3Settings

pytestmark = pytest.mark.slow

# A figure with more than 4 decimals is a figure nobody rounded for display.
UNROUNDED = re.compile(r"\d+\.\d{5,}")


def _materialization(instance, asset: str) -> dict:
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[RC]), limit=1
    ).records[0]
    return record.asset_materialization.metadata


def _messages(instance, run_id: str) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id) if e.user_message]


def test_a_run_signs_its_report_and_k6_dashboards_and_shows_its_verdict(pipeline_env, instance):
    run = verify_in_process(
        definitions(), RC, instance, run_config=short_run_config(duration="4s"), raise_on_error=False
    )
    assert run.success, "the run failed"
    bundle = run.values.evidence_bundle
    files = read_bundle_uri(bundle.uri, S3Settings.from_env())
    key = load_public_key_file(pipeline_env.signing_public_key)

    # both reports are signed subjects of the bundle; a changed report does not verify
    assert {"report/index.html", "report/k6-dashboard-read.html", "report/k6-dashboard-write.html"} <= set(
        files
    )
    assert bundle.missing_files == ()
    verify_files(files, key, expected_rc=RC)
    tampered = dict(files)
    tampered["report/index.html"] = files["report/index.html"].replace(b"PASS", b"FAIL")
    with pytest.raises(VerificationFailed):
        verify_files(tampered, key, expected_rc=RC)
    assert b"<script" not in files["report/index.html"]
    # k6's own export: a single HTML page with its data inline
    dashboard = files["report/k6-dashboard-read.html"]
    assert b"Grafana Labs" in dashboard[:200] and b'<script id="data"' in dashboard

    shown = _materialization(instance, "evidence_bundle")
    assert shown["report_uri"].value == bundle.uri.rstrip("/") + "/report/index.html"
    assert shown["k6_dashboards"].value == ["report/k6-dashboard-read.html", "report/k6-dashboard-write.html"]

    # the report's SLO table shows the signed metrics.json's figures, rounded
    metrics = json.loads(files["slo/metrics.json"])
    page = files["report/index.html"].decode()
    for row in metrics["slos"]:
        cells = re.search(rf'<tr data-slo="{row["name"]}">(.*?)</tr>', page).group(1)
        shown = float(re.search(r'data-field="value">([-\d.]+)', cells).group(1))
        assert abs(shown - row["value"]) <= (0.05 if row["unit"] == "ms" else 0.0005), row["name"]

    # the runs list shows the verdict
    assert instance.get_run_by_id(run.run_id).tags[VERDICT_TAG] == "PASS"

    # release_decision: SLOs tightest first with the share of budget, the verify command, rounded figures
    decision = _materialization(instance, "release_decision")
    summary = decision["summary"].value
    assert "share of budget used" in summary and "DEV KEY" not in summary
    shares = [float(s) for s in re.findall(r"\| (\d+) % \|", summary)]
    assert len(shares) == len(metrics["slos"]) and shares == sorted(shares, reverse=True)
    command = decision["verify_command"].value
    assert command.startswith("uv run verification-pipeline verify ") and bundle.uri in command
    assert f"--rc {RC}" in command
    assert decision["headline"].value.startswith("PASS: tightest: ")
    assert not UNROUNDED.search(summary)

    # charts in the UI's metadata, as inline PNGs
    slo_metadata = _materialization(instance, "slo_metrics")
    assert slo_metadata["charts"].value.count("](data:image/png;base64,") >= 4
    assert "](data:image/png;base64," in _materialization(instance, "fanout_latencies")["charts"].value
    for check in ("value", "ci_low", "ci_high"):
        assert all(not UNROUNDED.search(str(v.value)) for k, v in slo_metadata.items() if k == check)

    # k6 progress in the run log, people's words, without k6's banner
    messages = _messages(instance, run.run_id)
    progress = [
        m for m in messages if re.match(r"k6 (read|write): \d+ s of 4 s \(\d+ %\), [\d,]+ requests, p95 ", m)
    ]
    assert progress, "no k6 progress line in the run log"
    assert not [m for m in messages if "/‾‾/" in m or "execution: local" in m]


def test_a_run_that_breaks_before_deciding_is_tagged_incomplete_not_fail(pipeline_env, instance):
    config = short_run_config()
    config["ops"]["load_samples"]["ops"]["plan_load_segments"]["config"]["source"] = "neither"
    run = verify_in_process(definitions(), RC, instance, run_config=config, raise_on_error=False)
    assert not run.success
    dagster_run = instance.get_run_by_id(run.run_id)
    assert VERDICT_TAG not in dagster_run.tags
    failure = next(
        e.dagster_event
        for e in instance.all_logs(run.run_id)
        if e.dagster_event is not None and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="incomplete_run_sensor",
        dagster_instance=instance,
        dagster_run=dagster_run,
        dagster_event=failure,
    ).for_run_failure()
    incomplete_run_sensor(context)
    tags = instance.get_run_by_id(run.run_id).tags
    assert tags[VERDICT_TAG] == "INCOMPLETE"
    assert tags[BROKEN_STEP_TAG].startswith("load_samples")
