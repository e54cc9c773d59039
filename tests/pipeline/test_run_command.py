"""`verification-pipeline run --rc TAG`: the whole job in one process against a service and a store
named only by the environment, as CI runs it.

The service is a reference target started on its own (not the embedded stack's), the store a real
SeaweedFS; the command runs as the installed entry point in a fresh process whose environment
holds only the README's variables. A missing or malformed variable exits 2 naming it before
anything starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipeline.conftest import RC, TEST_SLOS, short_run_config
from verification_pipeline.audit.recompute import audit_files
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle_io import read_bundle
from verification_pipeline.evidence.keys import generate_key_pair, load_public_key_file
from verification_pipeline.evidence.verify import verify_path
from verification_pipeline.stack.control import DEMO_REPORTS

CLI = str(Path(sys.executable).parent / "verification-pipeline")


def _environment(tmp_path: Path, s3_env: dict[str, str], graphql_url: str, token: str) -> dict[str, str]:
    """Only what a CI job would export: the target, its token, S3, the signing key, the SLOs."""
    keys = generate_key_pair(tmp_path / "keys")
    slos = tmp_path / "slos.yaml"
    slos.write_text(TEST_SLOS)
    (tmp_path / "dagster").mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "VP_HOME": str(tmp_path / "vp"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "VP_TARGET_GRAPHQL_URL": graphql_url,
        "VP_TARGET_JWT": token,
        "VP_EVIDENCE_SIGNING_KEY_FILE": str(keys.private_key),
        "VP_SLOS_FILE": str(slos),
        "VP_LOAD_DURATION": "3s",
        **DEMO_REPORTS,
    }
    env.update({k: v for k, v in s3_env.items() if k.startswith("VP_S3_")})
    env["VP_S3_PREFIX"] = f"run-{tmp_path.name}"
    return env


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    run_config = tmp_path / "run-config.yaml"
    run_config.write_text(yaml.safe_dump(short_run_config()))
    return subprocess.run(
        [CLI, "run", "--rc", RC, "--output", str(tmp_path / "out"), "--run-config", str(run_config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_run_verifies_an_rc_against_a_target_and_store_named_only_by_the_environment(
    s3_stack, start_target, tmp_path
):
    target = start_target()  # its own process, its own secret: not the embedded stack's target
    token = target.token()
    env = _environment(tmp_path, s3_stack.env, target.graphql_url, token)
    # the optional tokens of the forbidden-request kinds; no neighbour token: cross-tenant uses a made-up tenant
    env["VP_TARGET_JWT_READ_ONLY"] = target.token(scopes=("coherence:read",))
    env["VP_TARGET_JWT_EXPIRED"] = target.token(ttl_s=-60)
    # the reference target's residency rule, as a team would declare their service's
    env["VP_TARGET_RESIDENCY"] = "X-Data-Region=us-east-1"
    done = _run(tmp_path, env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    # it prints what the demo prints: the SLO table, the scan gates, the decision, the bundle
    assert "read_latency_p95" in out and "scan gates: " in out
    assert f"release decision for {RC}: PASS" in out
    assert f"s3://{env['VP_S3_BUCKET']}/{env['VP_S3_PREFIX']}/{RC}/" in out
    assert token not in out and "PRIVATE KEY" not in out
    # the local copy verifies with the trusted key (the one we generated, not the bundle's copy)
    bundle = tmp_path / "out" / RC / "bundle"
    report = verify_path(
        bundle, load_public_key_file(tmp_path / "keys" / "evidence-signing.pub"), expected_rc=RC
    )
    assert report.verdict == "PASS"
    assert audit_files(read_bundle(bundle).files).matches
    # forbidden requests went beside the load: every kind with a token was tried and refused
    authz = json.loads((bundle / "policy" / "authz_under_load.json").read_text())
    assert authz["verdict"] == "PASS" and authz["attempts"] > 0 and authz["admitted"] == 0
    assert {k["kind"] for k in authz["kinds"] if k["tried"]} == {
        "cross_tenant_read",
        "cross_tenant_write",
        "missing_scope",
        "expired",
        "forged",
        "residency",
        # a few fan-out subscribers asked for another tenant's room (no neighbour token: the main one)
        "cross_tenant_subscribe",
    }
    subscribe = next(k for k in authz["kinds"] if k["kind"] == "cross_tenant_subscribe")
    assert subscribe["attempts"] >= 1 and subscribe["refused"] == subscribe["attempts"]
    assert (bundle / "raw" / "authz.parquet").is_file()
    # the target's own resource figures were read around the load from its /metrics: every
    # request it counted (k6's and the forbidden ones) with the CPU they cost; no baseline yet
    cost = json.loads((bundle / "cost" / "resources.json").read_text())
    scraped = cost["phases"]["slo_load"]["sources"]["scrape"]
    assert cost["verdict"] == "PASS" and "not compared" in cost["reason"], cost["reason"]
    assert scraped["requests"] >= authz["attempts"] and scraped["cpu_seconds_per_1000_requests"] > 0
    assert scraped["cache_hit_ratio"] > 0.9 and scraped["limiter_refused"] == 0
    assert cost["not_read"]["slo_load"] == {"promql": "VP_PROMETHEUS_URL not set"}
    assert (bundle / "raw" / "cost.parquet").is_file()
    # ... and so does the installed `verify` command, with --require-pass
    verified = subprocess.run(
        [
            CLI,
            "verify",
            str(bundle),
            "--public-key",
            str(tmp_path / "keys" / "evidence-signing.pub"),
            "--rc",
            RC,
            "--require-pass",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.slow
def test_run_exits_1_when_a_gate_fails(s3_stack, start_target, tmp_path):
    target = start_target()
    target.set_faults(read_latency_ms="400")  # reads now breach the 350 ms p95 SLO
    env = _environment(tmp_path, s3_stack.env, target.graphql_url, target.token())
    done = _run(tmp_path, env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"release decision for {RC}: FAIL" in out
    assert f"error: {RC}: the signed release decision is FAIL" in out and "read_latency_p95" in out
    # a failed RC still leaves its signed evidence
    assert (tmp_path / "out" / RC / "bundle").is_dir()


# --- configuration: exit 2 naming the variable, before anything starts -------------------------

_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """A complete, valid environment (nothing listens: the checks come before any connection)."""
    for name in list(os.environ):
        if name.startswith(("VP_", "DAGSTER_")):
            monkeypatch.delenv(name)
    keys = generate_key_pair(tmp_path / "keys")
    values = {
        "VP_HOME": str(tmp_path / "vp"),
        "VP_TARGET_GRAPHQL_URL": "http://127.0.0.1:9/graphql",
        "VP_TARGET_JWT": _JWT,
        "VP_S3_BUCKET": "evidence",
        "VP_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "VP_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "VP_S3_SECRET_ACCESS_KEY": "secret-access-key-value",
        "VP_EVIDENCE_SIGNING_KEY_FILE": str(keys.private_key),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value", "named", "said"),
    [
        ("VP_TARGET_GRAPHQL_URL", None, "VP_TARGET_GRAPHQL_URL", "not set"),
        ("VP_TARGET_GRAPHQL_URL", "127.0.0.1:8080/graphql", "VP_TARGET_GRAPHQL_URL", "is not an http(s) URL"),
        ("VP_TARGET_GRAPHQL_URL", "http://127.0.0.1:99999/graphql", "VP_TARGET_GRAPHQL_URL", "port"),
        ("VP_TARGET_JWT", None, "VP_TARGET_JWT", "not set"),
        ("VP_TARGET_JWT", "Bearer not-a-jwt-secret-value", "VP_TARGET_JWT", "is not a JWT"),
        ("VP_S3_BUCKET", None, "VP_S3_BUCKET", "not set"),
        ("VP_S3_BUCKET", "Evidence_Bucket", "VP_S3_BUCKET", "is not an S3 bucket name"),
        ("VP_S3_ENDPOINT_URL", "localhost:8333", "VP_S3_ENDPOINT_URL", "is not an http(s) URL"),
        ("VP_S3_SECRET_ACCESS_KEY", None, "VP_S3_SECRET_ACCESS_KEY", "not set while its pair is"),
        ("VP_S3_OBJECT_LOCK_MODE", "STRICT", "VP_S3_OBJECT_LOCK_MODE", "is not an Object Lock mode"),
        ("VP_EVIDENCE_SIGNING_KEY_FILE", None, "VP_EVIDENCE_SIGNING_KEY", "not set"),
        (
            "VP_EVIDENCE_SIGNING_KEY_FILE",
            "/nonexistent/key.pem",
            "VP_EVIDENCE_SIGNING_KEY_FILE",
            "cannot read",
        ),
        ("VP_LOAD_DURATION", "3 minutes", "VP_LOAD_DURATION", "is not a k6 duration"),
        ("VP_SLOS_FILE", "/nonexistent/slos.yaml", "VP_SLOS_FILE", "cannot read"),
        ("VP_VULN_REPORT", "/nonexistent/grype.json", "VP_VULN_REPORT", "is not a file"),
        ("VP_PROMETHEUS_URL", "prometheus:9090", "VP_PROMETHEUS_URL", "is not an http:// or https:// URL"),
        (
            "VP_TARGET_METRICS_URL",
            "ftp://x/metrics",
            "VP_TARGET_METRICS_URL",
            "is not an http:// or https:// URL",
        ),
        (
            "VP_BASELINE_METRICS_URL",
            "baseline:4000/metrics",
            "VP_BASELINE_METRICS_URL",
            "is not an http:// or https:// URL",
        ),
        ("VP_TARGET_RESIDENCY", "X-Data-Region us-east-1", "VP_TARGET_RESIDENCY", "is not a valid value"),
    ],
)
def test_a_missing_or_malformed_variable_exits_2_naming_it(clean_env, capsys, name, value, named, said):
    if value is None:
        clean_env.delenv(name)
    else:
        clean_env.setenv(name, value)
    code = main(["run", "--rc", RC])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"[{named}]" in err and said in err
    # a secret's value is never echoed, even a malformed one
    assert "not-a-jwt-secret-value" not in err and "secret-access-key-value" not in err


def test_a_signing_key_that_is_not_a_key_exits_2_naming_the_variable(clean_env, capsys, tmp_path):
    clean_env.delenv("VP_EVIDENCE_SIGNING_KEY_FILE")
    clean_env.setenv(
        "VP_EVIDENCE_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----"
    )
    assert main(["run", "--rc", RC]) == 2
    err = capsys.readouterr().err
    assert "[VP_EVIDENCE_SIGNING_KEY]" in err and "not base64" not in err


def test_an_rc_that_is_not_a_tag_or_a_run_config_that_is_not_a_mapping_exits_2(clean_env, capsys, tmp_path):
    assert main(["run", "--rc", "latest"]) == 2
    assert "is not a release-candidate tag" in capsys.readouterr().err
    config = tmp_path / "run.yaml"
    config.write_text("- a list\n")
    assert main(["run", "--rc", RC, "--run-config", str(config)]) == 2
    assert "not a mapping of run config" in capsys.readouterr().err
