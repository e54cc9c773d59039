"""Both ops artifacts at once, as the `ops_artifacts` asset and `ops render` need them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from verification_pipeline.errors import InputError
from verification_pipeline.ops.dashboard import DASHBOARD_FILE, dashboard_json
from verification_pipeline.ops.model import MetricsConfig, SLOTarget
from verification_pipeline.ops.rules import RULES_FILE, render_rules


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
    """Write the rendered files into `out_dir` (created if missing); returns their paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name, content in artifacts.items():
            path = out_dir / name
            path.write_bytes(content)
            written.append(path)
    except OSError as exc:
        raise InputError(f"cannot write the ops artifacts: {exc.strerror}", source=str(out_dir)) from exc
    return written
