"""`verification-pipeline k6 ...`: figures and the seed's gate from k6 raw output files.

Several files are one test split into execution segments (or a read and a write run): their
requests are merged before any percentile. `gate` replaces the seed's `parse-k6.js`
(`--p95 350 --errorRate 0.1`): exit 0 when both hold, 1 when either is breached, 2 when a
file cannot be read. By default it compares point estimates, as the seed did; with
`--confidence 0.95` it decides as the pipeline does: p95 over successful responses and the
error rate must have their one-sided upper bounds at that level within the limits, from the
requests in time order (exit 1 also when the sample cannot show it).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from verification_pipeline.errors import GateFailed, NoDataError, UsageError
from verification_pipeline.formatting import fixed

if TYPE_CHECKING:
    import polars as pl

    from verification_pipeline.slo.spec import Source

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
    from verification_pipeline.cli.output import print_table
    from verification_pipeline.loadtest.summary import summarize

    summary = summarize(_load(files, role))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    rows: list[tuple[object, ...]] = []
    for op, figures in summary.items():
        duration, failures = figures["http_req_duration"], figures["request_failures"]
        rows.append(
            (
                op,
                figures["http_reqs"]["count"],
                f"{failures['count']} ({_percent(failures['rate'])})",
                *(fixed(duration[name]) for name in ("avg", "min", "med", "max", "p(90)", "p(95)", "p(99)")),
            )
        )
    headers = ("op", "requests", "failed", "avg ms", "min ms", "med ms", "max ms", "p(90) ms", "p(95) ms")
    print_table((*headers, "p(99) ms"), rows, title="k6 requests")


@app.command("gate")
def gate_command(
    files: list[Path] = Files,
    p95: float = typer.Option(..., "--p95", min=0, metavar="MS", help="largest acceptable p95 latency, ms"),
    error_rate: float | None = typer.Option(
        None,
        "--error-rate",
        min=0,
        max=100,
        metavar="PERCENT",
        help="largest acceptable failed share, percent (required; the seed's --errorRate works too)",
    ),
    seed_error_rate: float | None = typer.Option(None, "--errorRate", min=0, max=100, hidden=True),
    op: str | None = typer.Option(None, "--op", help="judge only this op (default: every request)"),
    confidence: float | None = typer.Option(
        None,
        "--confidence",
        metavar="LEVEL",
        help="gate on the pipeline's one-sided bounds at this level, above 0.5 and below 1 (e.g. 0.95), "
        "instead of point estimates",
    ),
    role: str | None = Role,
) -> None:
    """The seed's parse-k6.js: p95 and error rate against limits; exit 1 on a breach."""
    from verification_pipeline.loadtest.summary import ALL_OPS, summarize

    error_rate = _checked_limits(p95, error_rate, seed_error_rate, confidence)
    samples = _load(files, role)
    summary = summarize(samples)
    scope = op or ALL_OPS
    if scope not in summary:
        raise NoDataError(
            f"no {scope} requests in {', '.join(map(str, files))}",
            field="--op",
            hint=f"ops present: {', '.join(sorted(set(summary) - {ALL_OPS}))}",
        )
    if confidence is not None:
        import polars as pl

        _gate_on_bounds(
            samples if scope == ALL_OPS else samples.filter(pl.col("op") == scope),
            scope,
            p95,
            error_rate,
            confidence,
        )
        return
    _gate_on_estimates(summary[scope], scope, p95, error_rate)


def _checked_limits(
    p95: float, error_rate: float | None, seed_error_rate: float | None, confidence: float | None
) -> float:
    """The error-rate limit (`--error-rate`, else the seed's `--errorRate`) once every limit is usable."""
    if error_rate is None:
        if seed_error_rate is None:
            raise UsageError("missing option --error-rate", hint="e.g. --error-rate 0.1 (percent)")
        error_rate = seed_error_rate
    for name, limit in (("--p95", p95), ("--error-rate", error_rate), ("--confidence", confidence or 0.95)):
        if not math.isfinite(limit):
            raise UsageError(f"{name} must be a finite number, got {limit}", hint="e.g. --p95 350")
    if confidence is not None and not 0.5 < confidence < 1:
        raise UsageError(
            f"--confidence must lie above 0.5 and below 1, got {confidence:g}", hint="e.g. --confidence 0.95"
        )
    return error_rate


def _gate_on_estimates(figures: dict[str, Any], scope: str, p95: float, error_rate: float) -> None:
    """The seed's gate: the measured p95 and failed share against the limits; GateFailed on a breach."""
    measured_p95 = figures["http_req_duration"]["p(95)"]
    failures = figures["request_failures"]
    failed_share = failures["rate"] * 100
    # The rate's denominator: every request owed, the ones k6 sent and the iterations it dropped.
    owed = figures["http_reqs"]["count"] + failures["dropped"]
    typer.echo(
        f"{scope}: p95 {fixed(measured_p95)} ms (limit {p95:g}), error rate {failed_share:.4f}% (limit {error_rate:g}%), "
        f"{failures['count']} of {owed} requests failed"
        + (f" ({failures['dropped']} dropped iterations included)" if failures["dropped"] else "")
    )
    breaches = []
    if measured_p95 is None:
        breaches.append("no request has a latency, so p95 cannot be measured")
    elif measured_p95 > p95:
        breaches.append(f"p95 {fixed(measured_p95)} ms exceeds {p95:g} ms")
    if failed_share > error_rate:
        breaches.append(f"error rate {failed_share:.4f}% exceeds {error_rate:g}%")
    if breaches:
        raise GateFailed(f"the gate on {_scope_words(scope)} was breached: " + "; ".join(breaches))
    typer.echo("gate passed")


def _gate_on_bounds(
    requests: pl.DataFrame, scope: str, p95: float, error_rate: float, confidence: float
) -> None:
    """The pipeline's verdict rule on this scope's requests; no minimum sample beyond the bounds'."""
    from verification_pipeline.slo.metrics import compute_slo_metrics
    from verification_pipeline.slo.spec import Slo, SloSpec
    from verification_pipeline.verdict import Verdict

    source = cast("Source", scope if scope in ("read", "write") else "all")
    spec = SloSpec(
        confidence=confidence,
        slos=[
            Slo(
                name="p95",
                metric="quantile",
                source=source,
                quantile=0.95,
                threshold=p95,
                unit="ms",
                min_samples=1,
            ),
            Slo(
                name="error_rate",
                metric="rate",
                source=source,
                threshold=error_rate,
                unit="percent",
                min_samples=1,
            ),
        ],
    )
    rows = compute_slo_metrics(spec, **{"read" if source == "all" else source: requests}).to_dicts()
    for row in rows:
        typer.echo(f"{scope} {row['name']}: {row['verdict']}: {row['reason']}")
    blocking = [f"{row['name']} {row['verdict']}" for row in rows if row["verdict"] != Verdict.PASS]
    if blocking:
        raise GateFailed(
            f"the gate on {_scope_words(scope)} did not pass at {confidence * 100:g}% confidence: "
            + "; ".join(blocking)
        )
    typer.echo("gate passed")


def _load(files: list[Path], role: str | None) -> pl.DataFrame:
    """Every file's requests, merged; a pipe is read whole (capped), a regular file streamed."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

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
        disable=not sys.stderr.isatty(),  # a bar is for a person watching; in a log it is a stray line
    ) as progress:
        for path in files:
            if not is_regular_file(path):
                # a pipe (`<(zcat run.json.gz)`) cannot be read twice or sized up front
                data = read_capped(path, limit=STREAM_MAX_BYTES, what="the k6 output")
                frames.append(ingest(data, role=role, name=str(path)))
                continue
            check_size(path, limit=FILE_MAX_BYTES, what="the k6 output")
            task = progress.add_task(f"reading {path.name}", total=path.stat().st_size)

            def advance(done: int, _total: int | None, task: TaskID = task) -> None:
                progress.update(task, completed=done)

            frames.append(ingest(path, role=role, on_progress=advance))
    return merge_segments(frames)


def _scope_words(scope: str) -> str:
    from verification_pipeline.loadtest.summary import ALL_OPS

    return "every request" if scope == ALL_OPS else f"the {scope} requests"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.3f}%"
