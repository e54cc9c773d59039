"""`stack up | down | status` and `demo`: the embedded stack, and the main job on it."""

from __future__ import annotations

import os
import time

import typer

from verification_pipeline.paths import ensure_dagster_home
from verification_pipeline.stack.control import Stack

app = typer.Typer(help="The embedded stack: SeaweedFS (S3) and the reference target, loopback only.", no_args_is_help=True)

PortBase = typer.Option(None, "--port-base", envvar="VP_STACK_PORT_BASE", help="First of the stack's ports (default 18300).")


@app.command()
def up(port_base: int | None = PortBase, no_target: bool = typer.Option(False, help="Start only the object store.")) -> None:
    """Start the store (and the reference target); wait until they answer. Safe to repeat."""
    status = Stack(port_base=port_base, with_target=not no_target).up(progress=typer.echo)
    for line in status.lines():
        typer.echo(line)
    typer.echo(f"point a shell at it: set -a; . {Stack(port_base=port_base).layout.env_file}; set +a")


@app.command()
def down(port_base: int | None = PortBase) -> None:
    """Stop exactly the processes `up` started; the data stays."""
    stopped = Stack(port_base=port_base).down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(port_base: int | None = PortBase) -> None:
    """Say what runs where (credentials masked)."""
    for line in Stack(port_base=port_base).status().lines():
        typer.echo(line)


def demo(
    rc: str = typer.Option("v24.1.0-rc1", help="Release-candidate tag to verify."),
    duration: str = typer.Option("20s", help="Load phase length per load test (k6 duration)."),
    port_base: int | None = PortBase,
    keep_stack: bool = typer.Option(False, help="Leave the stack running afterwards."),
) -> None:
    """The main job: start the embedded stack, verify the RC end to end, print where everything is."""
    import dagster as dg

    from verification_pipeline.defs.runner import verify_in_process
    from verification_pipeline.release.tags import parse_rc

    parse_rc(rc)
    started = time.monotonic()
    stack = Stack(port_base=port_base)
    was_running = bool(stack.status().running)
    stack.up(progress=typer.echo)
    try:
        os.environ.update(stack.env())
        os.environ.setdefault("VP_DEMO_DURATION", duration)
        from verification_pipeline.defs.scans.assets import DEMO_REPORTS

        for name, path in DEMO_REPORTS.items():
            os.environ.setdefault(name, path)
        ensure_dagster_home()
        from verification_pipeline.definitions import defs

        with dg.DagsterInstance.get() as instance:
            run = verify_in_process(defs, rc, instance)
        typer.echo("")
        typer.echo(f"run {run.run_id}: {'succeeded' if run.success else 'FAILED'} in {time.monotonic() - started:.1f}s")
        for item in run.materialized:
            rows = f" ({item.rows} rows)" if item.rows is not None else ""
            typer.echo(f"  {item.asset:<24} {item.uri or ''}{rows}")
        typer.echo(f"Dagster instance: {os.environ['DAGSTER_HOME']} (open it with `make dev`)")
    finally:
        if not was_running and not keep_stack:
            stack.down()
            typer.echo("stack stopped (it was not running before the demo)")
