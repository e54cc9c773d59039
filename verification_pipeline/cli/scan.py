"""`scan summarize FILE...`: what each scan report holds, in normalized counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Scan reports (SBOM, vulnerabilities, policy): detect the format by content and summarize.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Scan reports (SBOM, vulnerabilities, policy)."""
    # a callback keeps `summarize` a named sub-command while it is the only one


def _lines(summary: dict[str, Any]) -> list[str]:
    tool = " ".join(filter(None, (summary["tool"], summary["tool_version"])))
    lines = [f"{summary['source']}  [{summary['format']}, {tool}]"]
    if components := summary.get("components"):
        types = ", ".join(f"{kind} {n}" for kind, n in components["by_type"].items()) or "none"
        lines.append(f"  components       {components['total']}: {types}")
    if vulns := summary.get("vulnerabilities"):
        severities = ", ".join(f"{name} {n}" for name, n in vulns["by_severity"].items())
        states = ", ".join(f"{name} {n}" for name, n in vulns["by_fix_state"].items())
        lines.append(f"  vulnerabilities  {vulns['total']}: {severities}")
        lines.append(f"  fix state        {states}")
    if policies := summary.get("policies"):
        counts = ", ".join(
            f"{key} {policies[key]}" for key in ("passed", "failed", "warnings", "errors", "skipped")
        )
        lines.append(f"  policies         {policies['policies']} rows: {counts}")
    return lines


@app.command()
def summarize(
    files: Annotated[
        list[Path], typer.Argument(help="Report files: syft/CycloneDX/SPDX, grype/trivy/SARIF, OPA/conftest.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
) -> None:
    """Detect each file's format by content and print its normalized counts.

    Every file is parsed before anything is printed, so a bad file (exit 2) leaves no partial
    summary behind.
    """
    from verification_pipeline.fileio import REPORT_MAX_BYTES, read_capped
    from verification_pipeline.scans import parse_report, report_summary

    summaries = [
        report_summary(parse_report(read_capped(path, limit=REPORT_MAX_BYTES, what="the report"), str(path)))
        for path in files
    ]
    if as_json:
        typer.echo(json.dumps({"reports": summaries}, indent=2))
        return
    for summary in summaries:
        for line in _lines(summary):
            typer.echo(line)
