"""`report`: the self-contained HTML page (report/index.html) that the bundle signs."""

import dagster as dg
import polars as pl

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.report.budget import headline
from verification_pipeline.report.html import ReportInputs, render_report, report_verdict


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="report",
    kinds={"html"},
    description="`report/index.html`: verdict first, then every figure as a chart (latency CDFs with "
    "threshold and interval, p95/throughput and errors over time, fan-out, the baseline comparison, "
    "scan gates). One file, opens offline; signed in the bundle.",
)
def report(
    context: dg.AssetExecutionContext,
    release_candidate: dict,
    slo_metrics: dict,
    scan_summary: dict,
    read_load_samples: pl.DataFrame,
    write_load_samples: pl.DataFrame,
    fanout_latencies: pl.DataFrame,
) -> dg.Output[bytes]:
    inputs = ReportInputs(
        rc=release_candidate["tag"],
        commit=release_candidate.get("commit") or "",
        metrics=slo_metrics,
        scan_summary=scan_summary,
        read=read_load_samples,
        write=write_load_samples,
        fanout=fanout_latencies,
    )
    page = render_report(inputs)
    verdict = report_verdict(inputs)
    context.log.info(f"report: {len(page):,} bytes, {headline(verdict, slo_metrics)}")
    return dg.Output(
        page,
        metadata={"verdict": str(verdict), "headline": headline(verdict, slo_metrics), "bytes": len(page)},
    )
