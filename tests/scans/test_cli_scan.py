"""`scan summarize`: counts in text and JSON, exit 2 on a bad file (through a root like the real one)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from tests.scans.conftest import FIXTURES
from verification_pipeline.cli.scan import app as scan_app
from verification_pipeline.errors import PipelineError

root = typer.Typer()
root.add_typer(scan_app, name="scan")


def invoke(*args: str) -> tuple[int, str]:
    """Run like `verification-pipeline scan ...`: PipelineError -> `error: ...` and its exit code."""
    result = CliRunner().invoke(root, ["scan", *args])
    if isinstance(result.exception, PipelineError):
        return result.exception.exit_code, f"error: {result.exception}"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_text_summary_counts():
    code, out = invoke(
        "summarize",
        str(FIXTURES / "trivy/trivy_fluentd_os_and_lang.json"),
        str(FIXTURES / "opa/opa_test_JSONReporter_golden.json"),
        str(FIXTURES / "syft/alpine.syft.json"),
    )
    assert code == 0
    assert "  vulnerabilities  3: Critical 1, High 1, Medium 0, Low 1, Negligible 0, Unknown 0\n" in out
    assert "  fix state        fixed 2, not-fixed 1, wont-fix 0, unknown 0\n" in out
    assert "  policies         7 rows: passed 3, failed 2, warnings 0, errors 1, skipped 1\n" in out
    assert "  components       14: apk 14\n" in out
    assert "[trivy-json, trivy dev]" in out and "[syft-json, syft 0.101.1]" in out


def test_json_summary_parses_with_exact_counts():
    code, out = invoke(
        "summarize",
        "--json",
        str(FIXTURES / "grype/grype_real_keycloak_wontfix_low.json"),
        str(FIXTURES / "conftest/conftest_docs_options_md_failures.json"),
    )
    assert code == 0
    grype, conftest = json.loads(out)["reports"]
    assert grype["format"] == "grype-json" and grype["tool_version"] == "0.66.0"
    assert grype["vulnerabilities"]["by_severity"]["Low"] == 6
    assert grype["vulnerabilities"]["by_fix_state"] == {
        "fixed": 0,
        "not-fixed": 0,
        "wont-fix": 6,
        "unknown": 0,
    }
    assert len(grype["sha256"]) == 64
    assert conftest["policies"] == {
        "policies": 1,
        "passed": 1,
        "failed": 4,
        "warnings": 0,
        "errors": 0,
        "skipped": 0,
    }


def test_bad_input_exits_2_and_prints_nothing_else(tmp_path):
    broken = tmp_path / "vulns.json"
    broken.write_bytes(b'{"matches": [')
    code, out = invoke("summarize", str(FIXTURES / "grype/grype_empty.json"), str(broken))
    assert code == 2
    assert (
        out
        == f"error: {broken}:1: the file ends early (truncated?): Expecting value at column 14 (re-run the scanner or re-download the report)"
    )


def test_unknown_format_and_missing_file_exit_2(tmp_path):
    other = tmp_path / "k8s.json"
    other.write_text('{"apiVersion": "v1", "kind": "Pod"}')
    code, out = invoke("summarize", str(other))
    assert code == 2 and "unknown report format; saw top-level keys: apiVersion, kind" in out
    code, out = invoke("summarize", str(tmp_path / "absent.json"))
    assert (
        code == 2
        and out
        == f"error: {tmp_path / 'absent.json'}: cannot read the report: does not exist (check the path)"
    )
