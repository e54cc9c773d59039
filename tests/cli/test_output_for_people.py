"""What a person reads: tables whose figures are never cut (80 and 40 columns, piped), help without
Python's type names, one `error:` convention, `-h` and `--version`.

The terminal cases run the installed CLI on a pseudo-terminal of that width, as a person's shell would.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
import typer

from tests.cli.userproc import CLI, leaks, run_cli
from tests.loadtest.lines import k6_lines, point, write
from verification_pipeline.cli import app
from verification_pipeline.cli.output import table_lines


def on_terminal(args: list[str], columns: int) -> str:
    """The CLI's stdout as a terminal of `columns` columns shows it (a pty; COLUMNS as shells set it)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    process = subprocess.Popen([CLI, *args], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture(scope="module")
def k6_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # two ops with figures of many digits, so that a cut would show
    lines = k6_lines(30)
    tags = {"expected_response": "true", "op": "write", "scenario": "write", "status": "200"}
    for index in range(30):
        request = f"9-{index}"
        lines.append(point("http_reqs", 1, tags=tags, request_id=request))
        lines.append(point("http_req_duration", 1234.56789 + index * 97.3, tags=tags, request_id=request))
        lines.append(point("http_req_failed", 0, tags=tags, request_id=request))
    return write(tmp_path_factory.mktemp("k6") / "run.json", lines)


def _figures(k6_run: Path) -> list[str]:
    """Every figure the table shows, as it prints them, from the JSON summary of the same file."""
    summary = json.loads(run_cli(["k6", "summarize", "--json", str(k6_run)]).out)
    figures = []
    for op, values in summary.items():
        figures.append(op)
        figures.append(str(values["http_reqs"]["count"]))
        for name in ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"):
            figures.append(f"{values['http_req_duration'][name]:.3f}")
    return figures


@pytest.mark.parametrize("where", ["80 columns", "40 columns", "piped"])
def test_no_figure_of_the_k6_table_is_cut(k6_run: Path, where: str) -> None:
    if where == "piped":
        shown = run_cli(["k6", "summarize", str(k6_run)]).out
    else:
        shown = on_terminal(["k6", "summarize", str(k6_run)], int(where.split()[0]))
        width = int(where.split()[0])
        assert max(map(len, shown.splitlines())) <= width, shown  # fits: nothing wraps or is cut
    words = set(re.split(r"[\s()]+", shown))
    missing = [figure for figure in _figures(k6_run) if figure not in words]
    assert not missing, f"figures cut or lost ({where}): {missing}\n{shown}"
    assert "…" not in shown and "..." not in shown


def test_a_table_too_wide_becomes_one_record_per_block_and_a_pipe_gets_every_column() -> None:
    headers = ("SLO", "n", "value", "threshold")
    rows = [("read_latency_p95", 12000, "351.123", "<= 350 ms")]
    wide = table_lines(headers, rows, width=None)
    assert len(wide) == 2 and wide[1].split() == ["read_latency_p95", "12000", "351.123", "<=", "350", "ms"]
    narrow = table_lines(headers, rows, width=30)
    assert narrow == [
        "SLO read_latency_p95",
        "  n          12000",
        "  value      351.123",
        "  threshold  <= 350 ms",
    ]
    assert table_lines(headers, rows, width=200) == wide


# --- help ---------------------------------------------------------------------------------------


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = [[]]

    def walk(command, path: list[str]) -> None:
        for name in getattr(command, "commands", {}):
            found.append([*path, name])
            walk(command.commands[name], [*path, name])

    walk(root, [])
    return found


COMMANDS = _commands()
# Python's type names and typer's markers that have no place in help text
TYPE_NAMES = re.compile(r"<[a-z]|[{}]|list\[|\b(?:int|float|str|bool|Path) range\b|\bPath\b|--no-no-|-\n")


def test_every_command_is_found() -> None:
    assert {"verify", "audit", "k6", "scan", "target", "ops"} <= {path[0] for path in COMMANDS if path}
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "root")
def test_help_has_no_type_names_or_braces_and_reads_the_same_at_80_columns(path: list[str]) -> None:
    short = run_cli([*path, "-h"], env={"COLUMNS": "80"})
    long = run_cli([*path, "--help"], env={"COLUMNS": "200"})
    assert short.code == 0 and long.code == 0, short.err
    assert short.out.startswith("Usage: verification-pipeline")
    assert not TYPE_NAMES.search(short.out), short.out
    assert not leaks(short.out)
    assert max(map(len, short.out.splitlines())) <= 80, short.out
    # the same words whatever the width: only the line breaks differ
    assert short.out.split() == long.out.split() or _same_words_except_truncated_summaries(
        short.out, long.out
    )


def _same_words_except_truncated_summaries(narrow: str, wide: str) -> bool:
    # A group lists its commands with one-line summaries that click shortens to fit; the rest is equal.
    def body(text: str) -> list[str]:
        return text.split("Commands:")[0].split()

    return body(narrow) == body(wide)


def test_version_and_h_work_at_the_root() -> None:
    version = run_cli(["--version"])
    assert version.code == 0 and re.fullmatch(r"verification-pipeline \d+\.\d+\.\d+\S*\n", version.out)
    assert run_cli(["-h"]).code == 0


def test_usage_errors_and_our_errors_share_one_prefix() -> None:
    usage = run_cli(["k6", "gate", "--no-such-option"])
    ours = run_cli(["k6", "summarize", "/nonexistent/run.json"])
    assert usage.code == ours.code == 2
    assert usage.err.startswith("error: No such option: --no-such-option")
    assert "usage: verification-pipeline k6 gate [OPTIONS] FILES..." in usage.err
    assert ours.err.startswith("error: /nonexistent/run.json: cannot read the k6 output: does not exist")
    assert "Error:" not in usage.err + ours.err
