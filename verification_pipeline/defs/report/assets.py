"""`report`: the self-contained HTML page (report/index.html) that the bundle signs."""

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import stored_value_metadata, unrecorded_files
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.evidence.layout import REPORT
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.gates import rc_verdict
from verification_pipeline.records import (
    BaselineComparisonRecord,
    GateInputs,
    ScanSummaryRecord,
    ServiceBuildRecord,
    SloMetricsRecord,
)
from verification_pipeline.report.budget import headline
from verification_pipeline.report.html import ReportInputs, render_report

CODE_VERSION = code_version(__name__)


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="report",
    kinds={"html"},
    description=f"`{REPORT}`: verdict first, then every figure as a chart (latency CDFs with "
    "threshold and interval, p95/throughput and errors over time, fan-out, scan gates, dependence "
    "diagnostics). One file, opens offline; signed in the bundle.",
)
def report(
    context: dg.AssetExecutionContext,
    release_candidate: ReleaseCandidate,
    slo_metrics: SloMetricsRecord,
    scan_summary: ScanSummaryRecord,
    service_build: ServiceBuildRecord,
    baseline_comparison: BaselineComparisonRecord,
    authz_under_load: dict,
    overload_phase: dict,
    cost_per_request: dict,
    read_load_samples: pl.DataFrame,
    write_load_samples: pl.DataFrame,
    fanout_latencies: pl.DataFrame,
    policy_report: pl.DataFrame,
) -> dg.Output[bytes]:
    gate_inputs = GateInputs.from_asset_values(locals())
    # the verdict the bundle will sign: the gates, and evidence already known to be missing
    missing = unrecorded_files(context, release_candidate.version, made_here=[REPORT])
    verdict = rc_verdict(gate_inputs.gates(), missing)
    document = slo_metrics.as_json()  # what slo/metrics.json holds: the report's figures are its figures
    page = render_report(
        ReportInputs(
            rc=release_candidate.tag,
            commit=release_candidate.commit,
            verdict=verdict,
            metrics=document,
            scan_summary=scan_summary.as_json(),
            baseline=baseline_comparison.as_json(),
            read=read_load_samples,
            write=write_load_samples,
            fanout=fanout_latencies,
            policies=policy_report.to_dicts(),
            overload=overload_phase,
            cost=cost_per_request,
            authz=authz_under_load,
        )
    )
    line = headline(verdict, document)
    context.log.info(f"report: {len(page):,} bytes, {line}")
    return dg.Output(
        page,
        metadata={
            "verdict": verdict.value,
            "headline": line,
            "bytes": len(page),
            **stored_value_metadata(REPORT),  # the stored page is the bundle's file: no second copy
        },
    )
