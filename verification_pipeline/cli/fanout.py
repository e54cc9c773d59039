"""`fanout run`: the fan-out probe on its own, writing the seed's `fanout.json` shape plus ours."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from verification_pipeline.errors import GateFailed, UsageError
from verification_pipeline.formatting import fixed

if TYPE_CHECKING:
    from verification_pipeline.fanout.probe import ProbeConfig, ProbeResult

app = typer.Typer(
    help="Subscription fan-out latency: many subscribers, every delivery accounted for.", no_args_is_help=True
)

DEFAULT_OUT = Path("fanout.json")
PHASES = {"subscribe": "subscribers ready", "publish": "events published", "drain": "processes reported"}


# Long by its options; the body is the flow: refuse bad gates first, probe, write, print, gate.
@app.command()
def run(
    url: Annotated[
        str,
        typer.Option(
            envvar="VP_TARGET_GRAPHQL_URL", help="GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql."
        ),
    ],
    token: Annotated[
        str,
        typer.Option(envvar="VP_TARGET_JWT", show_default=False, help="JWT with coherence:read and :write."),
    ],
    tenant: Annotated[str, typer.Option(help="Tenant whose room the subscribers join.")] = "tenant-123",
    subscribers: Annotated[int, typer.Option(min=1, max=100_000, help="Socket.IO subscribers to hold.")] = 50,
    events: Annotated[int, typer.Option(min=1, max=1_000_000, help="Signals to publish.")] = 200,
    out: Annotated[Path, typer.Option(help="Where to write the seed's shape plus our fields.")] = DEFAULT_OUT,
    rate: Annotated[
        float | None,
        typer.Option(
            min=0.01, max=100_000, help="Events per second (open model); default: the seed's cadence."
        ),
    ] = None,
    grace_ms: Annotated[
        float, typer.Option(min=1, max=600_000, help="An event not seen this long after its publish is lost.")
    ] = 5000.0,
    late_ms: Annotated[
        float, typer.Option(min=0, max=600_000, help="An arrival later than this is counted as late.")
    ] = 250.0,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1024,
            help="Subscriber processes; default: one per 500 subscribers, at most one per core.",
        ),
    ] = None,
    connect_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            max=600,
            help="Seconds to wait for each connection and the target's Socket.IO or GraphQL answer to it.",
        ),
    ] = 5.0,
    subscribe_url: Annotated[
        str | None, typer.Option(help="Socket.IO base URL; default: --url without /graphql.")
    ] = None,
    t0_echoes: Annotated[
        bool,
        typer.Option(
            help="Also emit the seed's t0 message after each publish, as the seed's script does, and "
            "write `seed_method` figures (measured the script's way: publishes and t0 echoes, whole ms, "
            "first EVENTS arrivals) beside ours. Seed cadence only."
        ),
    ] = False,
    max_p95_ms: Annotated[float, typer.Option(help="Gate: fan-out p95 must not exceed this.")] = 250.0,
    min_delivery_ratio: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Gate: least share of (subscriber, event) pairs delivered."),
    ] = 1.0,
) -> None:
    """Probe fan-out latency; exit 1 when p95 or the delivery ratio breaches its gate."""
    from verification_pipeline.fanout.probe import ProbeConfig
    from verification_pipeline.fileio import atomic_write, check_output_file

    # Everything that can be refused is refused before the probe runs: its minutes are not lost.
    _refuse_bad_gates(max_p95_ms, min_delivery_ratio)
    out = check_output_file(out, what="--out")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    config = ProbeConfig(
        url=url,
        token=token,
        tenant=tenant,
        subscribers=subscribers,
        events=events,
        rate=rate,
        grace_ms=grace_ms,
        late_ms=late_ms,
        processes=processes,
        connect_timeout_s=connect_timeout,
        subscribe_url=subscribe_url,
        t0_echoes=t0_echoes,
    )
    metrics = _probe_with_progress_bars(config).metrics()
    atomic_write(out, (json.dumps(metrics, indent=2) + "\n").encode())
    _print_figures(metrics, out)
    breaches = _breaches(
        metrics,
        max_p95_ms=max_p95_ms,
        min_delivery_ratio=min_delivery_ratio,
        max_loop_lag_ms=config.max_loop_lag_ms,
    )
    if breaches:
        raise GateFailed("; ".join(breaches))


def _refuse_bad_gates(max_p95_ms: float, min_delivery_ratio: float) -> None:
    if not (math.isfinite(max_p95_ms) and max_p95_ms >= 0):
        raise UsageError(f"--max-p95-ms must be a finite number >= 0, got {max_p95_ms}", hint="e.g. 250")
    if math.isnan(min_delivery_ratio):
        raise UsageError("--min-delivery-ratio must be a number between 0 and 1, got nan")


def _breaches(
    metrics: dict[str, Any], *, max_p95_ms: float, min_delivery_ratio: float, max_loop_lag_ms: float
) -> list[str]:
    """The gates' breaches, the first one marked INCONCLUSIVE when the probe's own loops lagged too much."""
    from verification_pipeline.fanout.metrics import gate_breaches

    breaches = gate_breaches(metrics, max_p95_ms=max_p95_ms, min_delivery_ratio=min_delivery_ratio)
    lag = metrics.get("loop_lag_p99_ms")
    if breaches and lag is not None and lag > max_loop_lag_ms:
        # The figure is the probe's own delay as much as the target's: no verdict on the target
        # (exit 1 still: nothing passed), said first so nobody reads it as the target's FAIL.
        inconclusive = (
            f"INCONCLUSIVE, not a verdict on the target: the probe's own event loops lagged {lag:.1f} ms "
            f"(p99) > {max_loop_lag_ms:g} ms (the machine is busy); what it measured: {breaches[0]}"
        )
        breaches = [inconclusive, *breaches[1:]]
    return breaches


def _probe_with_progress_bars(config: ProbeConfig) -> ProbeResult:
    """The probe, with a bar per phase on stderr (gone when it ends)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from verification_pipeline.fanout.probe import run_probe

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done)

        return run_probe(config, progress=progress)


def _print_figures(metrics: dict[str, Any], out: Path) -> None:
    typer.echo(
        f"fan-out: {metrics['subscribers']} subscribers x {metrics['events']} events, "
        f"p50 {fixed(metrics['p50_ms'])} ms, p95 {fixed(metrics['p95_ms'])} ms, p99 {fixed(metrics['p99_ms'])} ms; "
        f"delivered {metrics['delivered']}, late {metrics['late']}, lost {metrics['lost']}, "
        f"duplicates {metrics['duplicates']}, ratio {metrics['delivery_ratio']:.4%}; "
        f"probe loop lag p99 {fixed(metrics['loop_lag_p99_ms'])} ms -> {out}"
    )
    if by_process := metrics.get("loop_lag_p99_ms_by_process"):
        typer.echo(
            "loop lag p99 per process: "
            + ", ".join(f"{name} {fixed(lag)} ms" for name, lag in by_process.items())
        )
    if (seed_method := metrics.get("seed_method")) is not None:
        typer.echo(
            f"seed's method: {seed_method['count']} latencies ({seed_method['publishes']} publishes, "
            f"{seed_method['echoes']} t0 echoes), p95 {fixed(seed_method['p95_ms'])} ms, p99 {fixed(seed_method['p99_ms'])} ms"
        )
