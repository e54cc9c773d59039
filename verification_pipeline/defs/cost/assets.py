"""`cost_per_request`: the service's CPU per 1,000 requests, peak memory, cache and limiter figures
around each load phase, against the baseline RC's, and their gate."""

import io
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.compare.baseline import verified_baseline
from verification_pipeline.cost.document import (
    baseline_block,
    concurrent_baseline_block,
    cost_document,
    policy_of,
)
from verification_pipeline.cost.schema import ROWS_SCHEMA
from verification_pipeline.defs.checks import gate_document_outputs
from verification_pipeline.defs.cost.during import samples_prefix
from verification_pipeline.defs.evidence.files import document_and_rows
from verification_pipeline.defs.evidence.resources import SigningKeyResource
from verification_pipeline.defs.materializations import latest_record
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.errors import PipelineError
from verification_pipeline.evidence.content import read_document
from verification_pipeline.evidence.layout import COST_DOCUMENT, COST_ROWS
from verification_pipeline.gates import COST_GATE
from verification_pipeline.records import BaselineComparisonRecord, SloSpecRecord
from verification_pipeline.slo.spec import load_slo_spec
from verification_pipeline.storage.bundles import read_bundle_uri

CODE_VERSION = code_version(__name__)
CHECK = COST_GATE.split(":", 1)[1]


# The assets whose runs read the service's resource figures around their load, and the phases each
# stores (`resources_during`): the SLO load's, then the overload phase's, each from its latest run.
_MEASURED_BY = {"read_load_samples": ("slo_load",), "overload_phase": ("overload",)}


def _load_rows(context: dg.AssetExecutionContext, s3: S3Resource) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Every phase's rows and notes from the runs that last made this partition's load samples and
    its overload phase."""
    store = s3.store()
    frames: list[pl.DataFrame] = []
    notes: dict[str, Any] = {}
    for asset, phases in _MEASURED_BY.items():
        record = latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
        if record is None:
            continue
        prefix = samples_prefix(s3, context.partition_key, record.run_id)
        keys = set(store.list(prefix))
        for phase in phases:
            key = f"{prefix}{phase}"
            if f"{key}.parquet" in keys:
                frames.append(pl.read_parquet(io.BytesIO(store.get_bytes(f"{key}.parquet"))))
            if f"{key}.notes.json" in keys:
                notes[phase] = json.loads(store.get_bytes(f"{key}.notes.json"))
    rows = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(schema={c: t for c, t in ROWS_SCHEMA.items() if c != "seq"})
    )
    rows = rows.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("seq")).select(list(ROWS_SCHEMA))
    return rows, notes


def _baseline(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    comparison: BaselineComparisonRecord,
) -> dict[str, Any] | None:
    """The baseline's own cost figures, from its bundle verified again, or (concurrent design) read
    from its deployment beside this RC's in this run (None without a baseline)."""
    if comparison.baseline is None:
        return None
    rc = str(comparison.baseline["rc"])
    if not comparison.baseline.get("bundle_uri"):
        # the concurrent design: a deployment read beside this RC (rows tagged @baseline), not a bundle
        return concurrent_baseline_block(rc)
    uri = str(comparison.baseline["bundle_uri"])
    try:
        files = read_bundle_uri(uri, s3.settings())
        verified_baseline(rc, uri, files, signing_key.load().public_key)
        document = json.loads(read_document(files, COST_DOCUMENT)) if COST_DOCUMENT in files else None
    except (PipelineError, ValueError) as error:
        context.log.warning(f"cost: the baseline {rc}'s cost evidence cannot be used: {error}")
        return {
            "rc": rc,
            "bundle_uri": uri,
            "reason": f"baseline {rc}'s bundle could not be read again",
            "phases": {},
        }
    return baseline_block(rc, uri, document)


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="policy",
    kinds={"polars", "prometheus"},
    deps=["read_load_samples", "write_load_samples", "overload_phase"],
    description="The service's own resource figures read before, during and after each load phase (its "
    "/metrics, and PromQL with VP_PROMETHEUS_URL): CPU seconds per 1,000 requests, peak resident memory, "
    "cache hit ratio and limiter refusals, against the baseline RC's. A rise beyond "
    "max_cpu_per_request_increase_pct of slos.yaml is WARN (FAIL under on_increase: fail); nothing read is "
    "WARN (NOT MEASURED).",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="cost_per_request",
            partitions_def=release_candidates,
            description="CPU per request did not rise beyond the policy of slos.yaml against the baseline RC.",
        )
    ],
)
def cost_per_request(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    signing_key: SigningKeyResource,
    slo_spec: SloSpecRecord,
    baseline_comparison: BaselineComparisonRecord,
) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    rows, notes = _load_rows(context, s3)
    spec = load_slo_spec(slo_spec.yaml.encode(), source=slo_spec.source)
    if not notes and rows.height == 0:
        notes = {"slo_load": {"load": "the load was imported or not run here: nothing was read around it"}}
    document = cost_document(
        rows,
        policy=policy_of(spec.cost),
        notes=notes,
        baseline=_baseline(context, s3, signing_key, baseline_comparison),
    )
    files = document_and_rows(COST_DOCUMENT, document, COST_ROWS, rows)
    metadata = {
        "cpu_seconds_per_1000_requests": document["cpu_seconds_per_1000_requests"] or 0.0,
        "baseline": (document["baseline"] or {}).get("rc") or "none",
        "reason": document["reason"],
    }
    yield from gate_document_outputs(context, s3, CHECK, document, files, metadata)
