"""Ops artifacts and release documents, generated from the SLOs and the measured metrics.

Entry points for the Dagster layer and the CLI (plain functions on data):

- `from_spec` (SloSpec -> list[SLOTarget]); `MetricsConfig` (metric names and labels, the
  reference target's by default), `load_metrics_config`;
- `render_ops_artifacts` (-> {"slo-burn-rate.yaml": bytes, "grafana-v24-slos.json": bytes}),
  `write_ops_artifacts`; the parts: `render_rules`, `render_dashboard`;
- `render_release_docs` (slo_metrics frame + RC, version, date, bundle URI, verdict ->
  {"PR_BODY_<version>.md": str, "RELEASE_NOTES_<version>.md": str}), `load_narrative`.
"""

from verification_pipeline.artifacts.dashboard import DASHBOARD_FILE, render_dashboard
from verification_pipeline.artifacts.docs import (
    ReleaseNarrative,
    load_narrative,
    release_doc_names,
    render_release_docs,
)
from verification_pipeline.artifacts.model import MetricsConfig, SLOTarget, from_spec, load_metrics_config
from verification_pipeline.artifacts.render import render_ops_artifacts, write_ops_artifacts
from verification_pipeline.artifacts.rules import RULES_FILE, render_rules

__all__ = [
    "DASHBOARD_FILE",
    "RULES_FILE",
    "MetricsConfig",
    "ReleaseNarrative",
    "SLOTarget",
    "from_spec",
    "load_metrics_config",
    "load_narrative",
    "release_doc_names",
    "render_dashboard",
    "render_ops_artifacts",
    "render_release_docs",
    "render_rules",
    "write_ops_artifacts",
]
