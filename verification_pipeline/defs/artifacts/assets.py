"""Grafana dashboard, Prometheus burn-rate rules, PR body and release notes, from the SLOs and figures."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import polars as pl

from verification_pipeline.artifacts.docs import render_release_docs
from verification_pipeline.artifacts.model import SLOTarget, from_spec
from verification_pipeline.artifacts.render import render_ops_artifacts
from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import bundle_files_metadata, unrecorded_files
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.evidence.layout import by_file_name
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.gates import findings, rc_verdict
from verification_pipeline.records import (
    BaselineComparisonRecord,
    GateInputs,
    ReleaseDocs,
    ScanSummaryRecord,
    ServiceBuildRecord,
    SloMetricsRecord,
    SloSpecRecord,
)
from verification_pipeline.slo.metrics import SLO_METRICS_SCHEMA
from verification_pipeline.slo.spec import load_slo_spec

CODE_VERSION = code_version(__name__)


def _targets(slo_spec: SloSpecRecord) -> list[SLOTarget]:
    return from_spec(load_slo_spec(slo_spec.yaml.encode(), source=slo_spec.source), source=slo_spec.source)


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="ops",
    kinds={"grafana", "prometheus"},
    description="slo-burn-rate.yaml (Sloth-shaped multiwindow burn-rate rules) and grafana-v24-slos.json.",
)
def ops_artifacts(
    context: dg.AssetExecutionContext, s3: S3Resource, slo_spec: SloSpecRecord
) -> dg.Output[dict[str, str]]:
    rendered = render_ops_artifacts(_targets(slo_spec))
    in_bundle = by_file_name("ops_artifacts", "")
    bundle = {in_bundle[name]: data for name, data in rendered.items()}
    return dg.Output(
        {name: data.decode() for name, data in rendered.items()},
        metadata={
            "files": dg.MetadataValue.json(sorted(rendered)),
            **bundle_files_metadata(context, s3, bundle),
        },
    )


def evidence_location(s3: S3Resource, release_candidate: ReleaseCandidate) -> str:
    """`s3://<bucket>/<prefix>/<rc>/`: where every run's bundle for this RC goes, known before any run."""
    store = s3.store()
    return store.uri(store.key(release_candidate.tag)) + "/"


def render_docs(
    release_candidate: ReleaseCandidate,
    slo_spec: SloSpecRecord,
    gate_inputs: GateInputs,
    evidence_uri: str,
    date: dt.date,
    missing_files: Sequence[str] = (),
    policies: pl.DataFrame | None = None,
) -> ReleaseDocs:
    """The PR body and release notes, stating the RC's verdict from its gates (`GateInputs.gates`)
    and the bundle files known to be missing, with the comparison with the previous RC."""
    gates = gate_inputs.gates()
    slo_metrics, baseline_comparison = gate_inputs.slo_metrics, gate_inputs.baseline_comparison
    verdict = rc_verdict(gates, missing_files)
    rows = pl.DataFrame([r.model_dump(mode="json") for r in slo_metrics.slos], schema=SLO_METRICS_SCHEMA)
    files = render_release_docs(
        rows,
        labels={t.name: t.title for t in _targets(slo_spec)},
        version=release_candidate.version,
        rc=release_candidate.tag,
        date=date,
        evidence_uri=evidence_uri,
        verdict=verdict,
        # the SLO rows speak for themselves in the table; the other gates need a line each
        findings=[
            *findings(g for g in gates[len(slo_metrics.slos) :]),
            *(f"missing from the evidence bundle: {name}" for name in missing_files),
        ],
        baseline=baseline_comparison.as_json(),
        measurement_health=slo_metrics.measurement_health,
        authz=gate_inputs.authz_under_load,
        cost=gate_inputs.cost_per_request,
        policies=policies.to_dicts() if policies is not None else None,
        overload=gate_inputs.overload_phase,
    )
    return ReleaseDocs(
        verdict=verdict, missing_files=tuple(missing_files), evidence_uri=evidence_uri, files=files
    )


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="release",
    kinds={"markdown"},
    description="`PR_BODY_<version>.md` and `RELEASE_NOTES_<version>.md` with the measured figures and verdicts; "
    "signed in the bundle as they are.",
)
def release_docs(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    release_candidate: ReleaseCandidate,
    slo_spec: SloSpecRecord,
    slo_metrics: SloMetricsRecord,
    scan_summary: ScanSummaryRecord,
    service_build: ServiceBuildRecord,
    baseline_comparison: BaselineComparisonRecord,
    authz_under_load: dict,
    cost_per_request: dict,
    policy_report: pl.DataFrame,
    overload_phase: dict,
) -> dg.Output[ReleaseDocs]:
    gate_inputs = GateInputs.from_asset_values(locals())
    in_bundle = by_file_name("release_docs", release_candidate.version)
    docs = render_docs(
        release_candidate,
        slo_spec,
        gate_inputs,
        evidence_location(s3, release_candidate),
        dt.datetime.now(dt.UTC).date(),
        missing_files=unrecorded_files(
            context, release_candidate.version, made_here=list(in_bundle.values())
        ),
        policies=policy_report,
    )
    bundle = {in_bundle[name]: text.encode() for name, text in docs.files.items()}
    return dg.Output(
        docs,
        metadata={
            "verdict": docs.verdict.value,
            "preview": dg.MetadataValue.md(next(iter(docs.files.values()))),
            **bundle_files_metadata(context, s3, bundle),
        },
    )
