"""Both ops artifacts at once, as the `ops_artifacts` asset and `ops render` need them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from verification_pipeline.artifacts.dashboard import DASHBOARD_FILE, dashboard_json
from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget
from verification_pipeline.artifacts.rules import RULES_FILE, render_rules
from verification_pipeline.fileio import atomic_write_many, check_output_dir


def render_ops_artifacts(
    slos: Sequence[SLOTarget], metrics: MetricsConfig | None = None, *, dashboard_title: str | None = None
) -> dict[str, bytes]:
    """`{file name: content}`: `slo-burn-rate.yaml` and `grafana-v24-slos.json`."""
    metrics = metrics or MetricsConfig()
    return {
        RULES_FILE: render_rules(slos, metrics).encode(),
        DASHBOARD_FILE: dashboard_json(slos, metrics, title=dashboard_title).encode(),
    }


def write_ops_artifacts(out_dir: Path, artifacts: dict[str, bytes]) -> list[Path]:
    """Write the rendered files into `out_dir` (created if missing), all or none; returns their paths.

    A symlink as the folder or in a file's place is refused: nothing is written outside `out_dir`.
    """
    check_output_dir(out_dir, what="the ops artifacts folder")
    files = {out_dir / name: content for name, content in artifacts.items()}
    atomic_write_many(files)
    return list(files)
