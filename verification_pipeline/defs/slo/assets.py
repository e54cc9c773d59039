"""The SLO spec, and the SLO figures computed from the raw samples with their verdicts."""

import hashlib
import os
from pathlib import Path

import dagster as dg
import polars as pl

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import load_original
from verification_pipeline.fanout.seed_import import import_seed_fanout
from verification_pipeline.report.budget import headline
from verification_pipeline.report.markdown import slo_charts_markdown, slo_table_markdown
from verification_pipeline.slo.document import metrics_document
from verification_pipeline.slo.metrics import FAIL, PASS
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, load_slo_spec

MIN_DELIVERY_RATIO = float(os.environ.get("VP_MIN_DELIVERY_RATIO", "1.0"))


def slos_path() -> Path:
    return Path(os.environ.get("VP_SLOS_FILE") or DEFAULT_SLOS_PATH)


def _spec_at_load():
    """The SLOs known when the code location loads: one asset check each."""
    return load_slo_spec(slos_path().read_bytes(), source=str(slos_path()))


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="slo",
    kinds={"yaml"},
    description="slos.yaml, validated: the seed's five SLOs by default (VP_SLOS_FILE to change).",
)
def slo_spec(context: dg.AssetExecutionContext) -> dg.Output[dict]:
    path = slos_path()
    data = path.read_bytes()
    spec = load_slo_spec(data, source=str(path))
    digest = hashlib.sha256(data).hexdigest()
    value = {
        "source": str(path),
        "sha256": digest,
        "yaml": data.decode(),
        "spec": spec.model_dump(mode="json"),
    }
    rows = "\n".join(
        f"| {s.name} | {s.metric} of {s.source} | <= {s.threshold:g} {s.unit} |" for s in spec.slos
    )
    return dg.Output(
        value,
        data_version=dg.DataVersion(digest),
        metadata={
            "sha256": digest,
            "slos": len(spec.slos),
            "summary": dg.MetadataValue.md(f"| SLO | measures | threshold |\n| --- | --- | --- |\n{rows}"),
        },
    )


def _seed_fanout(context, s3: S3Resource) -> dict | None:
    """The seed-shaped fanout.json that an import-mode `fanout_latencies` kept as its original."""
    original = load_original(context, s3, dg.AssetKey("fanout_latencies"))
    return import_seed_fanout(original[1], original[0]) if original else None


CHECKS = [
    dg.AssetCheckSpec(
        slo.name, asset="slo_metrics", description=slo.description, partitions_def=release_candidates
    )
    for slo in _spec_at_load().slos
]
CHECKS.append(
    dg.AssetCheckSpec(
        "fanout_delivery_ratio",
        asset="slo_metrics",
        description="Every (subscriber, event) pair delivered.",
        partitions_def=release_candidates,
    )
)


@dg.asset(
    partitions_def=release_candidates,
    code_version="1",
    group_name="slo",
    kinds={"polars"},
    description="One row per SLO: n, value, threshold, 95 % CI, verdict PASS/FAIL/INCONCLUSIVE and why; k6-shaped summaries per op.",
    check_specs=CHECKS,
)
def slo_metrics(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    slo_spec: dict,
    read_load_samples: pl.DataFrame,
    write_load_samples: pl.DataFrame,
    fanout_latencies: pl.DataFrame,
):
    value = metrics_document(
        spec_yaml=slo_spec["yaml"],
        spec_source=slo_spec["source"],
        read=read_load_samples,
        write=write_load_samples,
        fanout=fanout_latencies,
        fanout_summary_only=None if fanout_latencies.height else _seed_fanout(context, s3),
        min_delivery_ratio=MIN_DELIVERY_RATIO,
    )
    rows, overall, fanout = value["slos"], value["verdict"], value["fanout"]
    delivery_ratio = (fanout or {}).get("delivery_ratio")

    md_rows = "\n".join(
        f"| {r['name']} | {r['n']} | {_fmt(r['value'])} | <= {r['threshold']:g} {r['unit']} | "
        f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | **{r['verdict']}** | {r['reason']} |"
        for r in rows
    )
    yield dg.Output(
        value,
        metadata={
            "verdict": overall,
            "headline": headline(overall, value),
            "summary": dg.MetadataValue.md(
                f"**SLOs: {overall}**\n\n| SLO | n | value | threshold | 95 % CI | verdict | reason |\n"
                f"| --- | --- | --- | --- | --- | --- | --- |\n{md_rows}"
            ),
            "budget": dg.MetadataValue.md(slo_table_markdown(value)),
            "charts": dg.MetadataValue.md(
                slo_charts_markdown(
                    value, read=read_load_samples, write=write_load_samples, fanout=fanout_latencies
                )
            ),
        },
    )
    for r in rows:
        yield dg.AssetCheckResult(
            check_name=r["name"],
            passed=r["verdict"] == PASS,
            severity=dg.AssetCheckSeverity.ERROR if r["verdict"] == FAIL else dg.AssetCheckSeverity.WARN,
            description=r["reason"],
            metadata=_present(
                verdict=r["verdict"],
                value=r["value"],
                threshold=r["threshold"],
                unit=r["unit"],
                n=r["n"],
                ci_low=r["ci_low"],
                ci_high=r["ci_high"],
            ),
        )
    yield dg.AssetCheckResult(
        check_name="fanout_delivery_ratio",
        passed=delivery_ratio is not None and delivery_ratio >= MIN_DELIVERY_RATIO,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"delivery ratio {delivery_ratio:.6f} (gate >= {MIN_DELIVERY_RATIO:g})"
            if delivery_ratio is not None
            else "no fan-out measurement"
        ),
        metadata=_present(
            delivery_ratio=delivery_ratio,
            lost=(fanout or {}).get("lost"),
            duplicates=(fanout or {}).get("duplicates"),
        ),
    )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _present(**values) -> dict:
    """Metadata without the figures that could not be measured (None is not 0), rounded for display."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items() if v is not None}
