"""Grafana dashboard, Prometheus burn-rate rules, PR body and release notes, from the SLOs and figures."""

import datetime as dt

import dagster as dg
import polars as pl

from verification_pipeline.defs.evidence.location import bundle_uri_for
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.ops.artifacts import render_ops_artifacts
from verification_pipeline.ops.docs import render_release_docs
from verification_pipeline.ops.model import from_spec
from verification_pipeline.slo.metrics import SLO_METRICS_SCHEMA
from verification_pipeline.slo.spec import load_slo_spec


def _targets(slo_spec: dict):
    return from_spec(load_slo_spec(slo_spec["yaml"].encode(), source=slo_spec["source"]))


def ops_files(slo_spec: dict) -> dict[str, str]:
    return {name: data.decode() for name, data in render_ops_artifacts(_targets(slo_spec)).items()}


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="ops",
    kinds={"grafana", "prometheus"},
    description="slo-burn-rate.yaml (Sloth-shaped multiwindow burn-rate rules) and grafana-v24-slos.json.",
)
def ops_artifacts(slo_spec: dict) -> dg.Output[dict]:
    files = ops_files(slo_spec)
    return dg.Output(files, metadata={"files": dg.MetadataValue.json(sorted(files))})


def docs_files(
    release_candidate: dict,
    slo_spec: dict,
    slo_metrics: dict,
    scan_summary: dict,
    bundle_uri: str,
    verdict: str,
) -> dict[str, str]:
    rows = pl.DataFrame(slo_metrics["slos"], schema=SLO_METRICS_SCHEMA)
    findings = [
        f"{g['name']}: {g['verdict']}: {g['reason']}" for g in scan_summary["gates"] if g["verdict"] != "PASS"
    ]
    return render_release_docs(
        rows,
        labels={t.name: t.title for t in _targets(slo_spec)},
        version=release_candidate["version"],
        rc=release_candidate["tag"],
        date=dt.datetime.now(dt.UTC).date(),
        bundle_uri=bundle_uri,
        verdict=verdict,
        findings=findings,
    )


def overall_verdict(slo_metrics: dict, scan_summary: dict) -> str:
    verdicts = {slo_metrics["verdict"], scan_summary["verdict"]}
    for worst in ("FAIL", "INCONCLUSIVE"):
        if worst in verdicts:
            return worst
    return "PASS"


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="release",
    kinds={"markdown"},
    description="`PR_BODY_<version>.md` and `RELEASE_NOTES_<version>.md` with the measured figures and verdicts.",
)
def release_docs(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    release_candidate: dict,
    slo_spec: dict,
    slo_metrics: dict,
    scan_summary: dict,
) -> dg.Output[dict]:
    verdict = overall_verdict(slo_metrics, scan_summary)
    uri = bundle_uri_for(s3, release_candidate, context.run.run_id)
    files = docs_files(release_candidate, slo_spec, slo_metrics, scan_summary, uri, verdict)
    return dg.Output(
        files, metadata={"verdict": verdict, "preview": dg.MetadataValue.md(next(iter(files.values())))}
    )
