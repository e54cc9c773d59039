"""`verification-pipeline k6 ...`: figures and the seed's gate from k6 raw output files.

Several files are one test split into execution segments (or a read and a write run): their
requests are merged before any percentile. `gate` replaces the seed's `parse-k6.js`
(`--p95 350 --errorRate 0.1`): exit 0 when both hold, 1 when either is breached, 2 when a
file cannot be read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from verification_pipeline.errors import GateFailed, NoDataError, UsageError

if TYPE_CHECKING:
    import polars as pl

app = typer.Typer(
    help="Read k6 output (--out json, .gz, --out csv): summaries and the SLO gate.", no_args_is_help=True
)

# Existence and kind are checked by our reader, which also takes pipes: `<(zcat run.json.gz)`.
Files = typer.Argument(..., help="k6 output files (or pipes), merged as segments.")
Role = typer.Option(
    None, "--role", help="op for requests without an op tag or scenario (default: from file name)."
)


@app.command("summarize")
def summarize_command(
    files: list[Path] = Files,
    as_json: bool = typer.Option(False, "--json", help="print the k6-shaped summary as JSON"),
    role: str | None = Role,
) -> None:
    """Per-op and whole-run figures in k6's summary shape (avg, min, med, max, p(90), p(95), p(99))."""
    from rich.console import Console
    from rich.table import Table

    from verification_pipeline.loadtest.summary import summarize

    summary = summarize(_load(files, role))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(
        "op",
        "requests",
        "failed",
        "avg ms",
        "min ms",
        "med ms",
        "max ms",
        "p(90) ms",
        "p(95) ms",
        "p(99) ms",
        title="k6 requests",
    )
    for op, figures in summary.items():
        duration, failures = figures["http_req_duration"], figures["request_failures"]
        table.add_row(
            op,
            str(figures["http_reqs"]["count"]),
            f"{failures['count']} ({_percent(failures['rate'])})",
            *(_ms(duration[name]) for name in ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")),
        )
    Console().print(table)


@app.command("gate")
def gate_command(
    files: list[Path] = Files,
    p95: float = typer.Option(..., "--p95", min=0, help="largest acceptable p95 latency, ms"),
    error_rate: float = typer.Option(
        ..., "--error-rate", "--errorRate", min=0, max=100, help="largest acceptable failed share, percent"
    ),
    op: str | None = typer.Option(None, "--op", help="judge only this op (default: every request)"),
    role: str | None = Role,
) -> None:
    """The seed's parse-k6.js: p95 and error rate against limits; exit 1 on a breach."""
    from verification_pipeline.loadtest.summary import ALL_OPS, summarize

    for name, limit in (("--p95", p95), ("--error-rate", error_rate)):
        if not math.isfinite(limit):
            raise UsageError(f"{name} must be a finite number, got {limit}", hint="e.g. --p95 350")
    summary = summarize(_load(files, role))
    scope = op or ALL_OPS
    if scope not in summary:
        raise NoDataError(
            f"no {scope} requests in {', '.join(map(str, files))}",
            field="--op",
            hint=f"ops present: {', '.join(sorted(set(summary) - {ALL_OPS}))}",
        )
    figures = summary[scope]
    measured_p95 = figures["http_req_duration"]["p(95)"]
    failed_share = figures["request_failures"]["rate"] * 100
    typer.echo(
        f"{scope}: p95 {_ms(measured_p95)} ms (limit {p95:g}), error rate {failed_share:.4f}% (limit {error_rate:g}%), "
        f"{figures['request_failures']['count']} of {figures['http_req_duration']['count']} requests failed"
    )
    breaches = []
    if measured_p95 is None:
        breaches.append("no request has a latency, so p95 cannot be measured")
    elif measured_p95 > p95:
        breaches.append(f"p95 {_ms(measured_p95)} ms exceeds {p95:g} ms")
    if failed_share > error_rate:
        breaches.append(f"error rate {failed_share:.4f}% exceeds {error_rate:g}%")
    if breaches:
        raise GateFailed(f"{scope} gate breached: " + "; ".join(breaches))
    typer.echo("gate passed")


def _load(files: list[Path], role: str | None) -> pl.DataFrame:
    """Every file's requests, merged; a pipe is read whole (capped), a regular file streamed."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from verification_pipeline.fileio import (
        FILE_MAX_BYTES,
        STREAM_MAX_BYTES,
        check_size,
        is_regular_file,
        read_capped,
        refuse_same_file,
    )
    from verification_pipeline.loadtest.ingest import ingest, merge_segments

    refuse_same_file(files, what="k6 output")
    frames = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as progress:
        for path in files:
            if not is_regular_file(path):
                # a pipe (`<(zcat run.json.gz)`) cannot be read twice or sized up front
                data = read_capped(path, limit=STREAM_MAX_BYTES, what="the k6 output")
                frames.append(ingest(data, role=role, name=str(path)))
                continue
            check_size(path, limit=FILE_MAX_BYTES, what="the k6 output")
            task = progress.add_task(f"reading {path.name}", total=path.stat().st_size)
            frames.append(
                ingest(
                    path,
                    role=role,
                    on_progress=lambda done, _total, task=task: progress.update(task, completed=done),
                )
            )
    return merge_segments(frames)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.3f}%"
