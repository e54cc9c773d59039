"""One RC verified end to end: figures, checks, a signed bundle in S3 that verifies offline."""

import json
import os
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from tests.evidence.interop import (
    absolute_local_paths,
    statements_verified_by_securesystemslib,
    subjects_match_hashlib,
    validate_with_in_toto_attestation,
)
from tests.gitrepo import git, new_repo
from tests.pipeline.conftest import RC, definitions, short_run_config
from verification_pipeline.audit.recompute import audit_files
from verification_pipeline.cli import main
from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.keys import load_public_key_file
from verification_pipeline.evidence.verify import verify_files
from verification_pipeline.execution.runner import verify_in_process
from verification_pipeline.paths import file_sha256, project_root, tool_path
from verification_pipeline.storage.bundles import read_bundle_uri
from verification_pipeline.storage.s3 import S3Settings

pytestmark = pytest.mark.slow


def machine_paths_in(files) -> dict[str, list[str]]:
    """Bundle file -> the absolute paths of this machine found in its bytes."""
    local = {
        str(project_root()),
        str(Path.home()),
        tempfile.gettempdir() + "/",
        os.environ.get("DAGSTER_HOME", ""),
    }
    local |= {str(Path(path).resolve()) for path in local if path}
    found = {}
    for name in files:
        if name.startswith("raw/"):
            continue  # Parquet: binary measurements; no path is written into them
        text = files[name].decode("utf-8", "replace")
        hits = sorted(path for path in local if path and len(path) > 1 and path in text)
        if hits:
            found[name] = hits
    return found


def _check_results(instance, run_id):
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return {
        r.event_log_entry.dagster_event.event_specific_data.check_name: r.event_log_entry.dagster_event.event_specific_data
        for r in records
    }


def test_a_passing_rc_gets_a_verified_bundle_and_a_pass_decision(pipeline_env, instance, capsys, tmp_path):
    run = verify_in_process(definitions(), RC, instance, run_config=short_run_config(), raise_on_error=False)
    assert run.success, "the run failed"
    metrics = run.values.slo_metrics.as_json()
    assert {r["name"]: r["verdict"] for r in metrics["slos"]} == dict.fromkeys(
        ["read_latency_p95", "write_latency_p95", "error_rate", "fanout_latency_p95", "ingest_latency_p95"],
        "PASS",
    )
    read = next(r for r in metrics["slos"] if r["name"] == "read_latency_p95")
    assert read["ci_low"] <= read["value"] <= read["ci_high"]
    assert metrics["fanout"]["delivered"] == 4 * 120 and metrics["fanout"]["lost"] == 0
    # every phase recorded whether its client measured the service or itself, signed with the figures
    health = metrics["measurement_health"]
    assert sorted(p["phase"] for p in health["phases"]) == ["fanout", "read", "write"]
    for phase in health["phases"]:
        assert phase["client"] == ("the fan-out probe" if phase["phase"] == "fanout" else "k6")
        if phase["phase"] != "fanout":
            assert phase["seconds"] >= 1 and phase["client_cpu_pct_max"] > 0
            assert phase["dropped_iterations"] == 0 and phase["target_cpu_pct_mean"] is not None
    assert next(p for p in health["phases"] if p["phase"] == "fanout")["loop_lag_p99_ms"] is not None

    checks = _check_results(instance, run.run_id)
    assert {name for name, c in checks.items() if c.passed} >= {
        "read_latency_p95",
        "error_rate",
        "fanout_delivery_ratio",
        "sbom_present",
        "promotable",
    }

    bundle = run.values.evidence_bundle
    assert bundle.verdict == "PASS" and bundle.missing_files == () and not bundle.dev_key
    assert f"/{RC}/{run.run_id}/evidence/v24.1/" in bundle.uri
    files = read_bundle_uri(bundle.uri, S3Settings.from_env())
    report = verify_files(files, load_public_key_file(pipeline_env.signing_public_key), expected_rc=RC)
    assert report.verdict == "PASS" and report.run_id == run.run_id
    # the raw rows in the bundle recompute to the recorded figures
    assert audit_files(files).matches
    # the release notes carry the measured read p95, not a blank
    notes = files["release/RELEASE_NOTES_v24.1.md"].decode()
    assert f"{read['value']:.1f}" in notes or f"{read['value']:.0f}" in notes
    # they are signed inside the bundle, so they name where the RC's bundles go, not this run's URI
    assert (
        bundle.uri.startswith(f"s3://{S3Settings.from_env().bucket}/")
        and bundle.uri.split(run.run_id)[0] in notes
    )
    # no signed file names a path of this machine (the checkout, the home, the temporary directory,
    # the instance): metrics.json's spec, the SBOM's scan root and caches included
    assert machine_paths_in(files) == {}
    # lineage names the run that produced each raw input
    lineage = json.loads(files["lineage.json"])
    assert any(o.get("runId") == run.run_id for o in lineage["outputs"])

    decision = run.values.release_decision
    assert decision.verdict == "PASS" and decision.bundle_sha256 == bundle.archive_sha256

    # the same bundle verifies from S3 through the command line, and is a signed PASS
    public = str(pipeline_env.signing_public_key)
    assert main(["verify", bundle.uri, "--public-key", public, "--rc", RC, "--require-pass"]) == 0
    # the RC is not a git tag here: the signed commit is this checkout's HEAD, and the bundle says so
    assert report.commit == git(project_root(), "rev-parse", "HEAD")
    assert report.release_candidate["commitSource"] == "checkout-head"
    # code nobody here wrote agrees: securesystemslib (default keyid), in-toto-attestation, hashlib
    statements = statements_verified_by_securesystemslib(files, pipeline_env.signing_public_key.read_bytes())
    for statement in statements.values():
        validate_with_in_toto_attestation(statement)
        subjects_match_hashlib(statement, files)
        assert list(absolute_local_paths(statement)) == []
    tools = {
        d["name"]: d
        for d in statements["https://slsa.dev/provenance/v1"]["predicate"]["buildDefinition"][
            "resolvedDependencies"
        ]
    }
    assert tools["k6"]["digest"]["sha256"] == file_sha256(tool_path("k6"))
    assert tools["syft"]["digest"]["sha256"] == file_sha256(tool_path("syft"))

    # `lineage RC` reads the same instance: raw measurements first, the bundle and decision last
    capsys.readouterr()
    assert main(["lineage", RC]) == 0
    out = capsys.readouterr().out
    order = [
        out.index(f"\n{name}")
        for name in ("read_load_samples", "slo_metrics", "evidence_bundle", "release_decision")
    ]
    assert order == sorted(order)
    assert f"run {run.run_id}" in out and bundle.archive_sha256 in out and "slo_metrics  [PASS]" in out

    # `promote RC` finds the bundle through the instance, decides from its signed content, tags the
    # signed commit: here the RC tag is put on that commit (this checkout's HEAD, fetched)
    repo = new_repo(tmp_path / "service")
    git(repo, "fetch", "-q", str(project_root()), "HEAD")
    git(repo, "tag", RC, "FETCH_HEAD")
    assert (
        main(["promote", RC, "--public-key", str(pipeline_env.signing_public_key), "--repo", str(repo)]) == 0
    )
    tagged = git(repo, "tag", "-l", "--format=%(contents)", "v24.1.0")
    assert bundle.uri in tagged and bundle.archive_sha256 in tagged
    assert (
        main(["promote", RC, "--public-key", str(pipeline_env.signing_public_key), "--repo", str(repo)]) == 1
    )


def test_a_failing_rc_still_gets_a_complete_signed_bundle_that_says_failed(pipeline_env, instance, target):
    with target.faults(write_latency_ms="900"):
        run = verify_in_process(
            definitions(), RC, instance, run_config=short_run_config(), raise_on_error=False
        )
    assert not run.success, "the blocking promotable check fails the run"
    write = next(r for r in run.values.slo_metrics.as_json()["slos"] if r["name"] == "write_latency_p95")
    assert write["verdict"] == "FAIL" and write["value"] > 700
    bundle = run.values.evidence_bundle
    assert bundle.verdict == "FAIL" and bundle.missing_files == ()
    files = read_bundle_uri(bundle.uri, S3Settings.from_env())
    report = verify_files(files, load_public_key_file(pipeline_env.signing_public_key), expected_rc=RC)
    assert report.verdict == "FAIL" and report.result == "FAILED"
    assert machine_paths_in(files) == {}  # a failing RC's bundle names no path of this machine either
    public = str(pipeline_env.signing_public_key)
    assert main(["verify", bundle.uri, "--public-key", public]) == 0  # integrity holds
    assert main(["verify", bundle.uri, "--public-key", public, "--rc", RC, "--require-pass"]) == 1
    assert (
        files["release/PR_BODY_v24.1.md"].decode().lstrip().startswith(">")
        or "FAILED" in files["release/PR_BODY_v24.1.md"].decode().split("\n\n")[0]
    )
    assert run.values.release_decision.verdict == "FAIL"
    checks = _check_results(instance, run.run_id)
    assert checks["write_latency_p95"].passed is False and checks["promotable"].passed is False


def test_rerunning_an_rc_makes_a_second_bundle_and_leaves_the_first_alone(pipeline_env, instance):
    config = short_run_config(duration="2s", subscribers=2, events=10)
    first = verify_in_process(definitions(), RC, instance, run_config=config, raise_on_error=False)
    second = verify_in_process(definitions(), RC, instance, run_config=config, raise_on_error=False)
    uris = {first.values.evidence_bundle.uri, second.values.evidence_bundle.uri}
    assert len(uris) == 2
    key = load_public_key_file(pipeline_env.signing_public_key)
    for run in (first, second):
        files = read_bundle_uri(run.values.evidence_bundle.uri, S3Settings.from_env())
        assert verify_files(files, key, expected_rc=RC).run_id == run.run_id
    with pytest.raises(VerificationFailed):
        verify_files(
            read_bundle_uri(first.values.evidence_bundle.uri, S3Settings.from_env()),
            key,
            expected_rc="v24.1.0-rc2",
        )
