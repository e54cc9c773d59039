"""The SLO spec, and the SLO figures computed from the raw samples with their verdicts.

The SLOs are known when the code location loads (one asset check each), so the assets are
built for one `SloResource`: the checks and the run read the same slos.yaml.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import bundle_files_metadata
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.slo.resources import SloResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import load_original
from verification_pipeline.evidence.layout import SLO_METRICS, slo_summary_name
from verification_pipeline.fanout.seed_import import import_seed_fanout
from verification_pipeline.gates import DELIVERY_RATIO_GATE
from verification_pipeline.records import SloMetricsRecord, SloSpecRecord
from verification_pipeline.report.budget import headline
from verification_pipeline.report.markdown import budget_table_markdown, slo_charts_markdown
from verification_pipeline.slo.document import metrics_document, slo_table_markdown
from verification_pipeline.verdict import Verdict

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


def build_slo_assets(slos: SloResource) -> list[dg.AssetsDefinition]:
    """`slo_spec` and `slo_metrics`, with one check per SLO of `slos` and one for the delivery ratio."""
    spec = slos.spec()

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
                "summary": dg.MetadataValue.md(
                    f"| SLO | measures | threshold |\n| --- | --- | --- |\n{rows}"
                ),
            },
        )

    checks = [
        dg.AssetCheckSpec(
            slo.name, asset="slo_metrics", description=slo.description, partitions_def=release_candidates
        )
        for slo in spec.slos
    ]
    checks.append(
        dg.AssetCheckSpec(
            DELIVERY_RATIO_GATE,
            asset="slo_metrics",
            description="Every (subscriber, event) pair delivered, down to the configured ratio.",
            partitions_def=release_candidates,
        )
    )

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
        check_specs=checks,
    )
    def slo_metrics(
        context: dg.AssetExecutionContext,
        s3: S3Resource,
        slos: SloResource,
        slo_spec: SloSpecRecord,
        read_load_samples: pl.DataFrame,
        write_load_samples: pl.DataFrame,
        fanout_latencies: pl.DataFrame,
    ):
        value = SloMetricsRecord.model_validate(
            metrics_document(
                spec_yaml=slo_spec.yaml,
                spec_source=slo_spec.source,
                read=read_load_samples,
                write=write_load_samples,
                fanout=fanout_latencies,
                fanout_summary_only=None if fanout_latencies.height else _seed_fanout(context, s3),
                min_delivery_ratio=slos.min_delivery_ratio,
            )
        )
        document = value.as_json()
        yield dg.Output(
            value,
            metadata={
                "verdict": value.verdict.value,
                "headline": headline(value.verdict, document),
                "summary": dg.MetadataValue.md(slo_table_markdown(document)),
                "budget": dg.MetadataValue.md(budget_table_markdown(document)),
                "charts": dg.MetadataValue.md(
                    slo_charts_markdown(
                        document, read=read_load_samples, write=write_load_samples, fanout=fanout_latencies
                    )
                ),
                **bundle_files_metadata(context, s3, slo_bundle_files(value)),
            },
        )
        for gate in value.gates():  # the gates the bundle signs, so a check and the bundle never disagree
            yield dg.AssetCheckResult(
                check_name=gate.check_name,
                passed=gate.verdict is Verdict.PASS,
                severity=dg.AssetCheckSeverity.ERROR
                if gate.verdict is Verdict.FAIL
                else dg.AssetCheckSeverity.WARN,
                description=gate.reason,
                metadata={"verdict": gate.verdict.value, **_present(gate.detail)},
            )

    return [slo_spec, slo_metrics]


def _present(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata without the figures that could not be measured (None is not 0), without the reason
    (the description), rounded for display."""
    return {
        k: round(v, 4) if isinstance(v, float) else v
        for k, v in detail.items()
        if v is not None and k != "reason"
    }
