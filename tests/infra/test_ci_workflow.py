"""infra/ci/verify-rc.yml: a valid GitHub Actions workflow that runs the seed's gates our way.

Validated with check-jsonschema's vendored `vendor.github-workflows` schema, plus its
`custom.github-workflows-require-timeout` (every job has a timeout). actionlint could not be
installed here (its PyPI wheel downloads a binary at build time), so expressions and shell
blocks are not type-checked beyond what these tests assert.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.files import INFRA, load_yaml, run_tool, venv_tool

WORKFLOW = INFRA / "ci" / "verify-rc.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_yaml(WORKFLOW)


def run_lines(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_validates_against_the_workflow_schema(schema: str) -> None:
    result = run_tool(venv_tool("check-jsonschema"), "--builtin-schema", schema, str(WORKFLOW))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_job_without_a_runner(tmp_path: Path) -> None:
    broken = tmp_path / "verify-rc.yml"
    broken.write_text(WORKFLOW.read_text().replace("    runs-on: ubuntu-latest\n", "", 1))
    result = run_tool(
        venv_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)
    )
    assert result.returncode == 1


def test_k6_gates_replace_parse_k6(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    read, write = run_lines(jobs["slo-k6-read"]), run_lines(jobs["slo-k6-write"])
    assert "k6 run --out json=read.json" in read
    assert "verification-pipeline k6 gate read.json --p95 350 --error-rate 0.1 --op read" in read
    assert "k6 run --out json=write.json" in write
    assert "verification-pipeline k6 gate write.json --p95 700 --error-rate 0.1 --op write" in write
    assert "parse-k6.js" not in WORKFLOW.read_text()


def test_fanout_probe_and_scan_summaries(workflow: dict[str, Any]) -> None:
    fanout = " ".join(run_lines(workflow["jobs"]["sub-fanout"]).split())
    assert "verification-pipeline fanout run" in fanout and "--out fanout.json" in fanout
    scans = run_lines(workflow["jobs"]["scans"])
    assert "verification-pipeline scan summarize" in scans
    assert "syft scan dir:. -o syft-json=sbom.syft.json" in scans


def test_artifacts_reach_incoming_rc_even_when_a_gate_fails(workflow: dict[str, Any]) -> None:
    upload = workflow["jobs"]["upload"]
    assert upload["if"].startswith("always()")
    assert set(upload["needs"]) == {"slo-k6-read", "slo-k6-write", "sub-fanout", "scans"}
    script = run_lines(upload)
    assert 'aws "${endpoint[@]}" s3 cp incoming/ "s3://$BUCKET/$PREFIX/incoming/$RC/"' in script
    assert "--checksum-algorithm SHA256" in script
    for job in ("slo-k6-read", "slo-k6-write", "sub-fanout", "scans"):
        uploads = [
            s
            for s in workflow["jobs"][job]["steps"]
            if s.get("uses", "").startswith("actions/upload-artifact")
        ]
        assert uploads and uploads[0]["if"] == "always()", f"{job} must keep its evidence when its gate fails"


def test_secrets_only_through_the_secrets_context(workflow: dict[str, Any]) -> None:
    text = WORKFLOW.read_text()
    for name in ("VP_TARGET_JWT", "VP_S3_ACCESS_KEY_ID", "VP_S3_SECRET_ACCESS_KEY"):
        assert f"${{{{ secrets.{name} }}}}" in text
    for job in workflow["jobs"].values():
        for key, value in (job.get("env") or {}).items():
            if re.search(r"JWT|SECRET|ACCESS_KEY", key):
                assert re.fullmatch(r"\$\{\{ secrets\.[A-Z0-9_]+ \}\}", value), (
                    f"{key} must come from secrets"
                )
    assert workflow["permissions"] == {"contents": "read"}


def test_k6_threshold_exit_is_left_to_our_gate(workflow: dict[str, Any]) -> None:
    # k6 exits 99 when a script's own thresholds fail; our gate must still run and decide.
    for job in ("slo-k6-read", "slo-k6-write"):
        assert '[ "$status" -ne 99 ]' in run_lines(workflow["jobs"][job])


def test_one_command_job_runs_the_whole_verification_alone(workflow: dict[str, Any]) -> None:
    """VP_VERIFY_MODE=run: `verification-pipeline run` does everything, and no split job loads the service beside it."""
    jobs = workflow["jobs"]
    one = jobs["verify-run"]
    assert one["if"] == "vars.VP_VERIFY_MODE == 'run'"
    for name, job in jobs.items():
        if name != "verify-run":
            assert "vars.VP_VERIFY_MODE != 'run'" in job["if"], f"{name} would run beside verify-run"
    script = run_lines(one)
    assert 'verification-pipeline run --rc "$RC" --output evidence-copy' in script
    # every setting the command reads comes from the repository's variables and secrets
    env = one["env"]
    for name in (
        "VP_TARGET_GRAPHQL_URL",
        "VP_S3_BUCKET",
        "VP_S3_PREFIX",
        "VP_S3_REGION",
        "VP_S3_ENDPOINT_URL",
    ):
        assert env[name] == f"${{{{ vars.{name} }}}}"
    for name in (
        "VP_TARGET_JWT",
        "VP_S3_ACCESS_KEY_ID",
        "VP_S3_SECRET_ACCESS_KEY",
        "VP_EVIDENCE_SIGNING_KEY",
    ):
        assert env[name] == f"${{{{ secrets.{name} }}}}"
    uploads = [s for s in one["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["if"] == "always()" and "vp/logs" in uploads[0]["with"]["path"]
