"""`authz_under_load`: the forbidden requests the load steps sent, per kind, and their gate."""

import io
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.authz.document import GATE, authz_document
from verification_pipeline.authz.probe import ROWS_SCHEMA, Kind
from verification_pipeline.code_version import code_version
from verification_pipeline.defs.authz.during_load import rows_prefix
from verification_pipeline.defs.checks import gate_document_outputs
from verification_pipeline.defs.evidence.files import document_and_rows
from verification_pipeline.defs.materializations import latest_record
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.evidence.layout import AUTHZ_DOCUMENT, AUTHZ_ROWS
from verification_pipeline.records import SloSpecRecord
from verification_pipeline.slo.spec import load_slo_spec

CODE_VERSION = code_version(__name__)
CHECK = GATE.split(":", 1)[1]


def _load_rows(context: dg.AssetExecutionContext, s3: S3Resource) -> tuple[pl.DataFrame, dict]:
    """Every segment's rows and plan from the run that made this partition's load samples."""
    record = latest_record(context.instance, dg.AssetKey("read_load_samples"), context.partition_key)
    if record is None:
        return pl.DataFrame(schema=ROWS_SCHEMA), {}
    store = s3.store()
    keys = sorted(store.list(rows_prefix(s3, context.partition_key, record.run_id)))
    frames = [pl.read_parquet(io.BytesIO(store.get_bytes(k))) for k in keys if k.endswith(".parquet")]
    plans = [json.loads(store.get_bytes(k)) for k in keys if k.endswith(".plan.json")]
    rows = pl.concat(frames).sort("ts") if frames else pl.DataFrame(schema=ROWS_SCHEMA)
    return rows.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("seq")), _merged(plans)


def _merged(plans: list[dict]) -> dict:
    """The load segments' plan (one is enough: they try the same kinds) with the fan-out probe's
    cross-tenant subscribers; a kind that no step tried is not tried, with why."""
    load = next((p for p in plans if "tokens" in p), {})
    tried = sorted({kind for plan in plans for kind in plan.get("tried", [])})
    not_tried = {k: v for plan in plans for k, v in plan.get("not_tried", {}).items() if k not in tried}
    if load and Kind.CROSS_TENANT_SUBSCRIBE.value not in tried:
        not_tried[Kind.CROSS_TENANT_SUBSCRIBE.value] = (
            "no fan-out probe ran beside it (imported, or turned off)"
        )
    return {**load, "tried": tried, "not_tried": not_tried} if plans else {}


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="policy",
    kinds={"polars"},
    deps=["read_load_samples", "write_load_samples", "fanout_latencies"],
    description="Requests the service must refuse (another tenant's data, a missing scope, an expired or forged "
    "token), sent during the SLO load and kept out of its figures: per kind the attempts and how each was "
    "answered; one admitted fails the gate; with none, the leak-rate upper bound at the confidence of slos.yaml.",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="authz_under_load",
            partitions_def=release_candidates,
            description="No forbidden request was admitted while the service was under load.",
        )
    ],
)
def authz_under_load(
    context: dg.AssetExecutionContext, s3: S3Resource, slo_spec: SloSpecRecord
) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    rows, plan = _load_rows(context, s3)
    spec = load_slo_spec(slo_spec.yaml.encode(), source=slo_spec.source)
    # an imported load, or forbidden requests turned off: nothing tried, WARN (NOT MEASURED), never a pass
    document = authz_document(
        rows, tried=plan.get("tried", []), not_tried=plan.get("not_tried", {}), confidence=spec.confidence
    )
    files = document_and_rows(AUTHZ_DOCUMENT, document, AUTHZ_ROWS, rows)
    metadata = {
        "attempts": document["attempts"],
        "admitted": document["admitted"],
        "leak_rate_upper_bound": document["leak_rate_upper_bound"] or 0.0,
        "tokens": plan.get("tokens", "none"),
    }
    yield from gate_document_outputs(context, s3, CHECK, document, files, metadata)
