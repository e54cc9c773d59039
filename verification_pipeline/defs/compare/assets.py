"""This RC against the previous verified RC of its release line: `baseline_comparison`.

The baseline's figures come only from its signed bundle, read from the store and verified with
the trusted key (the signing key's public half). The store's per-RC `latest.json`, else the
Dagster record of `evidence_bundle`, only says where that bundle is.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.compare.baseline import earlier_in_line, find_baseline
from verification_pipeline.compare.document import (
    COMPARED,
    CONCURRENT,
    SEQUENTIAL,
    Samples,
    comparison_document,
    concurrent_samples,
    no_baseline_document,
)
from verification_pipeline.defs.checks import verdict_check
from verification_pipeline.defs.evidence.files import bundle_files_metadata, load_bundle_files
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.health import HEALTH_ASSETS, recorded_phases
from verification_pipeline.defs.materializations import latest_record, materialization
from verification_pipeline.defs.partitions import RELEASE_CANDIDATES, release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import StorageError, VerificationFailed
from verification_pipeline.evidence.layout import (
    CONCURRENT_BASELINE_FANOUT_STEM,
    CONCURRENT_BASELINE_STEM,
    SLO_BASELINE,
    raw_name,
)
from verification_pipeline.evidence.raw import raw_frames
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.evidence.upload import LATEST_POINTER
from verification_pipeline.gates import NO_REGRESSION_GATE
from verification_pipeline.records import BaselineComparisonRecord, SloSpecRecord
from verification_pipeline.release.tags import parse_rc
from verification_pipeline.report.markdown import comparison_chart_markdown
from verification_pipeline.slo.spec import SloSpec, load_slo_spec
from verification_pipeline.storage.bundles import read_bundle_uri

CODE_VERSION = code_version(__name__)
BASELINE_FANOUT = raw_name(CONCURRENT_BASELINE_FANOUT_STEM)


def _json(value: object) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode() + b"\n"


class BaselineConfig(dg.Config):
    baseline_rc: str = ""
    """An RC tag to compare with; empty: the most recent earlier RC of the line whose bundle verifies."""


def _locator(s3: S3Resource, instance: dg.DagsterInstance) -> Callable[[str], list[str]]:
    store = s3.store()

    def locate(rc: str) -> list[str]:
        """Where each record says the RC's newest bundle is: the store's `latest.json` (anyone who
        can write the bucket can rewrite it) and this instance's evidence_bundle record."""
        found = []
        try:
            pointer = json.loads(store.get_bytes(store.key(rc, LATEST_POINTER)))
            found.append(store.uri(str(pointer["bundlePrefix"])))
        except (StorageError, ValueError, KeyError, TypeError):
            pass  # no pointer, or not one this pipeline wrote: the record alone says
        record = latest_record(instance, dg.AssetKey("evidence_bundle"), rc)
        metadata = materialization(record).metadata if record else {}
        if "bundle_uri" in metadata:
            found.append(str(metadata["bundle_uri"].value))
        return found

    return locate


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="slo",
    kinds={"polars"},
    description=f"This RC against the previous verified RC of its release line ({SLO_BASELINE}): per SLO the "
    "shift with its interval, the p95 ratio, p-value and effect size, faster / no_change / slower, and the "
    "regression policy's verdict: WARN is reported and does not block the RC, FAIL (`on_regression: fail`) "
    "does. NO_BASELINE (WARN) when there is nothing verified to compare with.",
    check_specs=[
        dg.AssetCheckSpec(
            NO_REGRESSION_GATE,
            asset="baseline_comparison",
            partitions_def=release_candidates,
            description="No SLO regressed beyond the regression policy of slos.yaml.",
        ),
        dg.AssetCheckSpec(
            "baseline_found",
            asset="baseline_comparison",
            partitions_def=release_candidates,
            description="A baseline RC's signed bundle verified, so a comparison was made.",
        ),
    ],
)
def baseline_comparison(
    context: dg.AssetExecutionContext,
    config: BaselineConfig,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    release_candidate: ReleaseCandidate,
    slo_spec: SloSpecRecord,
    read_load_samples: pl.DataFrame,
    write_load_samples: pl.DataFrame,
    fanout_latencies: pl.DataFrame,
    concurrent_baseline_samples: pl.DataFrame,
    target: TargetResource,
) -> Iterator[dg.Output[BaselineComparisonRecord] | dg.AssetCheckResult]:
    rc = release_candidate.tag
    spec = load_slo_spec(slo_spec.yaml.encode(), source=slo_spec.source)
    current = Samples(
        read=read_load_samples,
        write=write_load_samples,
        fanout=fanout_latencies,
        health_phases=recorded_phases(context, HEALTH_ASSETS),
    )
    if target.baseline_graphql_url:
        yield from _concurrent(context, s3, target, spec, rc, current, concurrent_baseline_samples)
        return
    named = parse_rc(config.baseline_rc).tag if config.baseline_rc else None
    candidates = (
        [named] if named else earlier_in_line(rc, context.instance.get_dynamic_partitions(RELEASE_CANDIDATES))
    )
    search = find_baseline(
        candidates,
        locate=_locator(s3, context.instance),
        read=lambda uri: read_bundle_uri(uri, s3.settings()),
        public_key=signing_key.load().public_key,
    )
    for note in search.passed_over:
        context.log.warning(f"baseline candidate passed over: {note}")
    if named and search.baseline is None:
        raise VerificationFailed(
            f"the named baseline {named} cannot be used: {'; '.join(search.passed_over)}",
            hint="name an RC whose bundle verifies, or leave baseline_rc empty",
        )
    if search.baseline is None:
        document = no_baseline_document(rc, spec.confidence, search.reason(rc))
    else:
        context.log.info(f"baseline {search.baseline.rc}: verified bundle {search.baseline.bundle_uri}")
        document = comparison_document(
            spec,
            rc=rc,
            current=current,
            baseline=Samples.from_frames(search.baseline.frames, search.baseline.metrics),
            baseline_info=search.baseline.info(),
            design=SEQUENTIAL,
        )
    yield from _outcome(context, s3, document)


def _concurrent(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    target: TargetResource,
    spec: SloSpec,
    rc: str,
    current: Samples,
    rows: pl.DataFrame,
) -> Iterator[dg.Output[BaselineComparisonRecord] | dg.AssetCheckResult]:
    """The baseline deployment measured beside this RC in the same run (issue 24): the paired design."""
    fanout_files, _ = load_bundle_files(context, s3, "fanout_latencies")
    frames = raw_frames({name: data for name, data in fanout_files.items() if name == BASELINE_FANOUT})
    baseline = concurrent_samples({CONCURRENT_BASELINE_STEM: rows, **frames})
    baseline = replace(baseline, health_phases=current.health_phases)  # one client measured both sides
    label = target.baseline_rc or "the baseline deployment"
    context.log.info(f"concurrent baseline {label} at {target.baseline_graphql_url}: {rows.height} requests")
    document = comparison_document(
        spec,
        rc=rc,
        current=current,
        baseline=baseline,
        baseline_info={
            "rc": label,
            "graphql_url": target.baseline_graphql_url,
            "commit": "",
            "verified": False,
            "measured": "side by side with this RC, in the same load run and alternated fan-out rounds",
        },
        design=CONCURRENT,
    )
    yield from _outcome(context, s3, document)


def _outcome(
    context: dg.AssetExecutionContext, s3: S3Resource, document: dict
) -> Iterator[dg.Output[BaselineComparisonRecord] | dg.AssetCheckResult]:
    value = BaselineComparisonRecord.model_validate(document)
    yield dg.Output(
        value,
        metadata={
            **_metadata(value),
            **bundle_files_metadata(context, s3, {SLO_BASELINE: _json(value.as_json())}),
        },
    )
    gate = value.gate()  # the gate the bundle signs, so the check and the bundle never disagree
    yield verdict_check(gate.check_name, gate.verdict, gate.reason)
    yield dg.AssetCheckResult(
        check_name="baseline_found",
        passed=value.status == COMPARED,
        severity=dg.AssetCheckSeverity.WARN,
        description=value.reason,
        metadata={"baseline": value.baseline_rc or "none"},
    )


def _metadata(value: BaselineComparisonRecord) -> dict:
    rows = "\n".join(
        f"| {r['slo']} | {r['classification'] or 'not compared'} | {_range(r)} | "
        f"{'n/a' if r['p_value'] is None else format(r['p_value'], '.3g')} | **{r['verdict']}** |"
        for r in value.as_json()["slos"]
    )
    table = (
        "| SLO | change | estimate [CI] | p-value | verdict |\n| --- | --- | --- | --- | --- |\n" + rows
        if rows
        else ""
    )
    return {
        "status": value.status,
        "verdict": value.verdict.value,
        "baseline_rc": value.baseline_rc or "none",
        "summary": dg.MetadataValue.md(f"**{value.status}: {value.verdict}** ({value.reason})\n\n{table}"),
        # the overlaid CDFs and the shifts with their intervals, drawn as the report draws them
        "charts": dg.MetadataValue.md(comparison_chart_markdown(value.as_json())),
    }


def _range(row: dict) -> str:
    """The shift in ms for a latency, the rate difference in points for an error rate."""
    figure = row.get("shift_ms") or row.get("rate_diff")
    if not figure:
        return "n/a"
    unit = " ms" if row["kind"] == "latency" else " pp"
    low = "-inf" if figure["lower"] is None else f"{figure['lower']:+.3f}"
    high = "+inf" if figure["upper"] is None else f"{figure['upper']:+.3f}"
    return f"{figure['estimate']:+.3f}{unit} [{low}, {high}]"
