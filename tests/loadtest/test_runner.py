"""Running k6 as a subprocess: progress, exit codes, stderr in errors, secrets masked."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.loadtest.conftest import JWT, Faults, graphql_stub, k6_env
from verification_pipeline.errors import ToolError, UsageError
from verification_pipeline.loadtest.ingest import ingest
from verification_pipeline.loadtest.runner import execution_segments, run_k6, script_path


def test_execution_segments_cover_the_test() -> None:
    thirds = execution_segments(3)
    assert [s.segment for s in thirds] == ["0:1/3", "1/3:2/3", "2/3:1"]
    assert {s.sequence for s in thirds} == {"0,1/3,2/3,1"}
    assert execution_segments(1)[0].args() == [
        "--execution-segment",
        "0:1",
        "--execution-segment-sequence",
        "0,1",
    ]
    with pytest.raises(UsageError, match="at least 1"):
        execution_segments(0)
    with pytest.raises(UsageError, match="read, write"):
        script_path("delete")


def test_progress_is_streamed_and_crossed_thresholds_are_not_an_error(tmp_path: Path) -> None:
    lines: list[str] = []
    with graphql_stub(Faults()) as url:
        run = run_k6(
            script_path("read"),
            tmp_path / "read.json",
            env=k6_env(url, DURATION="2s", VUS="1", P95_MS="0.0001"),
            on_line=lines.append,
        )
    assert run.exit_code == 99 and run.thresholds_crossed
    assert any(line.startswith("running (") for line in lines), lines
    assert ingest(run.out_path).height > 0
    assert not any(JWT in line for line in lines)


def test_script_exception_fails_with_the_stderr_tail_and_masks_secrets(tmp_path: Path) -> None:
    script = tmp_path / "leaky.js"
    script.write_text("console.error('token is ' + __ENV.JWT);\nthrow new Error('cannot set up');\n")
    lines: list[str] = []
    with pytest.raises(ToolError) as failure:
        run_k6(script, tmp_path / "out.json", env={"JWT": JWT}, on_line=lines.append)
    message = str(failure.value)
    assert "exited with code 107" in message and "exception" in message
    assert "cannot set up" in message and "token is ***" in message
    assert JWT not in message and not any(JWT in line for line in lines)


def test_missing_url_is_reported_by_the_script(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="GRAPHQL_URL is required"):
        run_k6(script_path("write"), tmp_path / "out.json", env={"JWT": JWT})


def test_a_run_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with graphql_stub(Faults()) as url, pytest.raises(ToolError, match="did not finish read.js within 2 s"):
        run_k6(
            script_path("read"), tmp_path / "out.json", env=k6_env(url, DURATION="60s", VUS="1"), timeout_s=2
        )
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == []
