"""`verification-pipeline k6 summarize | gate`: exit 0 pass, 1 breach, 2 bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.loadtest.conftest import k6_summary
from verification_pipeline.cli.k6 import app
from verification_pipeline.errors import PipelineError


def invoke(*args: str) -> tuple[int, str]:
    """Run the sub-app under a root as the project's CLI does: our errors become exit codes."""
    root = typer.Typer()
    root.add_typer(app, name="k6")
    result = CliRunner().invoke(root, ["k6", *args])
    if isinstance(result.exception, PipelineError):
        return result.exception.exit_code, f"{result.output}error: {result.exception}"
    return result.exit_code, result.output


def test_summarize_json_is_k6_shaped(mixed_run) -> None:
    code, output = invoke("summarize", "--json", str(mixed_run.out_path))
    assert code == 0
    summary = json.loads(output)
    k6 = k6_summary(mixed_run)
    assert set(summary) == {"all", "read", "write"}
    assert set(summary["read"]["http_req_duration"]) == {
        "avg",
        "min",
        "med",
        "max",
        "p(90)",
        "p(95)",
        "p(99)",
        "count",
    }
    assert summary["all"]["http_req_duration"]["p(95)"] == pytest.approx(
        k6["http_req_duration"]["p(95)"], abs=1e-6
    )
    assert summary["all"]["http_reqs"]["count"] == k6["http_reqs"]["count"]


def test_summarize_table_merges_files(segment_runs) -> None:
    code, output = invoke("summarize", *(str(run.out_path) for run in segment_runs))
    total = sum(k6_summary(run)["http_reqs"]["count"] for run in segment_runs)
    assert code == 0 and "read" in output and str(total) in output


def test_gate_passes_on_clean_run(clean_read_run: Path) -> None:
    code, output = invoke("gate", str(clean_read_run / "clean.json"), "--p95", "350", "--errorRate", "0.1")
    assert code == 0, output
    assert "gate passed" in output


def test_gate_breach_exits_1_naming_what_failed(closed_read_run) -> None:
    code, output = invoke(
        "gate", str(closed_read_run.out_path), "--p95", "0.001", "--error-rate", "0.1", "--op", "read"
    )
    assert code == 1
    assert (
        "the gate on the read requests was breached: p95" in output
        and "exceeds 0.001 ms" in output
        and "error rate" in output
    )


def test_gate_failure_count_uses_the_rates_denominator(open_write_run) -> None:
    """Dropped iterations are failures of requests owed: "n of N" is the printed rate's N."""
    summary = k6_summary(open_write_run)
    code, output = invoke("gate", str(open_write_run.out_path), "--p95", "10000", "--error-rate", "100")
    assert code == 0, output
    owed = summary["http_reqs"]["count"] + summary["dropped_iterations"]["count"]
    failed = summary["http_req_failed"]["passes"] + summary["dropped_iterations"]["count"]
    assert f"error rate {failed / owed * 100:.4f}%" in output
    assert f"{failed} of {owed} requests failed ({summary['dropped_iterations']['count']} dropped" in output


def test_gate_with_confidence_needs_the_bound_not_the_point_estimate(clean_read_run: Path) -> None:
    """No failure in ~2,100 requests is 0 % as a point estimate, but cannot show <= 0.1 % at
    95 %: 2,995 failure-free requests are needed. A 1 % limit needs only 299."""
    path = str(clean_read_run / "clean.json")
    code, output = invoke("gate", path, "--p95", "350", "--error-rate", "0.1", "--confidence", "0.95")
    assert code == 1, output
    assert "error_rate INCONCLUSIVE" in output and "2995 requests without a failure would be needed" in output
    assert "p95: PASS" in output and "effective n" in output
    code, output = invoke("gate", path, "--p95", "350", "--error-rate", "1", "--confidence", "0.95")
    assert code == 0 and "gate passed" in output, output
    # A PASS without a failure still says what the run could have missed: bursts starting up to
    # the 95 % bound on their frequency, 1 - 0.05^(1/n), and the size that would break 1 % then.
    failed = re.search(r"error_rate: PASS: 0 of (\d+) requests failed", output)
    assert failed, output
    requests = int(failed.group(1))
    frequency = 1 - 0.05 ** (1 / requests)
    assert "no burst of two failures or more was seen" in output
    assert f"bursts starting once every {1 / frequency:,.0f} requests" in output
    assert (
        f"bursts of {math.ceil(0.01 / frequency):,} or more failures that often would break the 1% threshold"
        in output
    )


def test_gate_with_confidence_fails_a_measured_breach(closed_read_run) -> None:
    code, output = invoke(
        "gate", str(closed_read_run.out_path), "--p95", "0.001", "--error-rate", "0.1", "--confidence", "0.9"
    )
    assert code == 1
    assert "p95 FAIL" in output and "error_rate FAIL" in output and "at 90% confidence" in output


def test_gate_for_an_op_that_is_not_there(closed_read_run) -> None:
    code, output = invoke(
        "gate", str(closed_read_run.out_path), "--p95", "350", "--error-rate", "0.1", "--op", "write"
    )
    assert code == 2 and "no write requests" in output and "ops present: read" in output


@pytest.mark.parametrize("content", [b"", b"not k6\n", b'{"metric":"vus","type":"Point","data":{"time":"x"'])
def test_bad_input_exits_2_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "read.json"
    path.write_bytes(content)
    for command in (["summarize", str(path)], ["gate", str(path), "--p95", "350", "--error-rate", "0.1"]):
        code, output = invoke(*command)
        assert code == 2 and "read.json:1" in output


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _ = invoke("summarize", str(tmp_path / "absent.json"))
    assert code == 2
