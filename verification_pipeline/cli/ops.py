"""`ops render`: the Prometheus burn-rate rules and the Grafana SLO dashboard, outside Dagster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Ops artifacts generated from slos.yaml: Prometheus burn-rate rules and a Grafana dashboard.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Ops artifacts (burn-rate alerts, SLO dashboard)."""
    # a callback keeps `render` a named sub-command while it is the only one


@app.command()
def render(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for slo-burn-rate.yaml and grafana-v24-slos.json.")
    ],
    slos: Annotated[
        Path | None,
        typer.Option("--slos", help="slos.yaml to generate from (default: the seed's five SLOs)."),
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option(
            "--metrics", help="YAML overriding metric names and labels (default: the reference target's)."
        ),
    ] = None,
) -> None:
    """Write the burn-rate rules and the dashboard for the SLOs into --out."""
    from verification_pipeline.artifacts.model import MetricsConfig, from_spec, load_metrics_config
    from verification_pipeline.artifacts.render import render_ops_artifacts, write_ops_artifacts
    from verification_pipeline.fileio import CONFIG_MAX_BYTES, read_capped
    from verification_pipeline.slo.spec import default_slo_spec, load_slo_spec

    def read(path: Path, what: str) -> bytes:
        return read_capped(path, limit=CONFIG_MAX_BYTES, what=what)

    spec = load_slo_spec(read(slos, "--slos"), source=str(slos)) if slos else default_slo_spec()
    config = (
        load_metrics_config(read(metrics, "--metrics"), source=str(metrics)) if metrics else MetricsConfig()
    )
    targets = from_spec(spec, source=str(slos) if slos else None)
    for path in write_ops_artifacts(out, render_ops_artifacts(targets, config)):
        typer.echo(f"wrote {path}")
