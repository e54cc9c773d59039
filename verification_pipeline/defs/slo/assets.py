"""The SLO spec, and the SLO figures computed from the raw samples with their verdicts.

The SLOs are known when the code location loads (one asset check each), so the assets are
built for one `SloResource`: the checks and the run read the same slos.yaml.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.checks import verdict_check
from verification_pipeline.defs.evidence.files import bundle_files_metadata
from verification_pipeline.defs.health import HEALTH_ASSETS, recorded_phases
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.slo.resources import SloResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import load_original
from verification_pipeline.evidence.layout import SLO_METRICS, slo_summary_name
from verification_pipeline.fanout.seed_import import import_seed_fanout
from verification_pipeline.gates import DELIVERY_RATIO_GATE
from verification_pipeline.paths import portable_uri
from verification_pipeline.records import SloMetricsRecord, SloSpecRecord
from verification_pipeline.report.budget import headline
from verification_pipeline.report.markdown import budget_table_markdown, slo_charts_markdown
from verification_pipeline.slo.document import metrics_document, slo_table_markdown

CODE_VERSION = code_version(__name__)


def _json(value: object) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode() + b"\n"


def _seed_fanout(context: dg.AssetExecutionContext, s3: S3Resource) -> dict | None:
    """The seed-shaped fanout.json that an import-mode `fanout_latencies` kept as its original."""
    original = load_original(context, s3, dg.AssetKey("fanout_latencies"))
    return import_seed_fanout(original[1], original[0]) if original else None


def slo_bundle_files(metrics: SloMetricsRecord) -> dict[str, bytes]:
    """The bundle's slo/*.json: the whole document, and the k6-shaped and fan-out summaries it holds."""
    files = {SLO_METRICS: _json(metrics.as_json())}
    for role in ("read", "write"):
        if role in metrics.summaries:
            files[slo_summary_name(role)] = _json(metrics.summaries[role])
    if metrics.fanout:
        files[slo_summary_name("fanout")] = _json(metrics.fanout)
    return files


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="slo",
    kinds={"yaml"},
    description="slos.yaml, validated: the seed's five SLOs by default (VP_SLOS_FILE to change).",
)
def slo_spec(context: dg.AssetExecutionContext, slos: SloResource) -> dg.Output[SloSpecRecord]:
    path = slos.path()
    data = path.read_bytes()
    loaded = slos.spec()
    digest = hashlib.sha256(data).hexdigest()
    value = SloSpecRecord(
        source=str(path), sha256=digest, yaml=data.decode(), spec=loaded.model_dump(mode="json")
    )
    rows = "\n".join(
        f"| {s.name} | {s.metric} of {s.source} | <= {s.threshold:g} {s.unit} |" for s in loaded.slos
    )
    return dg.Output(
        value,
        data_version=dg.DataVersion(digest),
        metadata={
            "sha256": digest,
            "slos": len(loaded.slos),
            "summary": dg.MetadataValue.md(f"| SLO | measures | threshold |\n| --- | --- | --- |\n{rows}"),
        },
    )


def build_slo_assets(slos: SloResource) -> list[dg.AssetsDefinition]:
    """`slo_spec` and `slo_metrics`, with one check per SLO of `slos` and one for the delivery ratio."""

    @dg.asset(
        partitions_def=release_candidates,
        code_version=CODE_VERSION,
        group_name="slo",
        kinds={"polars"},
        description=(
            "One row per SLO: n, value, threshold, one-sided bounds at the slos.yaml confidence, dependence "
            "diagnostics (lag-1 autocorrelation, effective n, dispersion, interval method), verdict and why; "
            "k6-shaped summaries per op."
        ),
        check_specs=_slo_checks(slos),
    )
    def slo_metrics(
        context: dg.AssetExecutionContext,
        s3: S3Resource,
        slos: SloResource,
        slo_spec: SloSpecRecord,
        read_load_samples: pl.DataFrame,
        write_load_samples: pl.DataFrame,
        fanout_latencies: pl.DataFrame,
    ) -> Iterator[dg.Output[SloMetricsRecord] | dg.AssetCheckResult]:
        value = SloMetricsRecord.model_validate(
            metrics_document(
                spec_yaml=slo_spec.yaml,
                # signed into the bundle: the package URL of a shipped spec, else its file name, never a local path
                spec_source=portable_uri(slo_spec.source) or Path(slo_spec.source).name,
                read=read_load_samples,
                write=write_load_samples,
                fanout=fanout_latencies,
                fanout_summary_only=None if fanout_latencies.height else _seed_fanout(context, s3),
                min_delivery_ratio=slos.min_delivery_ratio,
                health_phases=recorded_phases(context, HEALTH_ASSETS),
            )
        )
        samples = {"read": read_load_samples, "write": write_load_samples, "fanout": fanout_latencies}
        yield dg.Output(value, metadata=_metrics_metadata(context, s3, value, samples))
        yield from _check_results(value)

    return [slo_spec, slo_metrics]


def _slo_checks(slos: SloResource) -> list[dg.AssetCheckSpec]:
    """One check per SLO of the spec (known when the code location loads), then the delivery ratio."""
    checks = [
        dg.AssetCheckSpec(
            slo.name, asset="slo_metrics", description=slo.description, partitions_def=release_candidates
        )
        for slo in slos.spec().slos
    ]
    checks.append(
        dg.AssetCheckSpec(
            DELIVERY_RATIO_GATE,
            asset="slo_metrics",
            description="Every (subscriber, event) pair delivered, down to the configured ratio.",
            partitions_def=release_candidates,
        )
    )
    return checks


def _metrics_metadata(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    value: SloMetricsRecord,
    samples: dict[str, pl.DataFrame],
) -> dict[str, Any]:
    document = value.as_json()
    return {
        "verdict": value.verdict.value,
        "headline": headline(value.verdict, document),
        "summary": dg.MetadataValue.md(slo_table_markdown(document)),
        "budget": dg.MetadataValue.md(budget_table_markdown(document)),
        "charts": dg.MetadataValue.md(slo_charts_markdown(document, **samples)),
        **bundle_files_metadata(context, s3, slo_bundle_files(value)),
    }


def _check_results(value: SloMetricsRecord) -> Iterator[dg.AssetCheckResult]:
    """The gates the bundle signs, so a check and the bundle never disagree."""
    for gate in value.gates():
        yield verdict_check(gate.check_name, gate.verdict, gate.reason, _present(gate.detail))


def _present(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata without the figures that could not be measured (None is not 0), without the reason
    (the description), rounded for display."""
    return {
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in detail.items()
        if v is not None and k != "reason"
    }
