"""`overload_phase`: after the SLO load and the fan-out probe, one tenant driven past its declared limit."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.checks import verdict_check
from verification_pipeline.defs.cost.during import resources_during
from verification_pipeline.defs.cost.resources import CostResource
from verification_pipeline.defs.evidence.files import bundle_files_metadata, document_and_rows
from verification_pipeline.defs.health import phase_sampler
from verification_pipeline.defs.overload.resources import OverloadResource
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import OVERLOAD_DOCUMENT, OVERLOAD_ROWS
from verification_pipeline.gates import overload_gates
from verification_pipeline.health.assess import phase_record
from verification_pipeline.overload.k6 import OverloadTenants, PhaseTiming, run_overload
from verification_pipeline.overload.limits import CostControls
from verification_pipeline.overload.schema import ROWS_SCHEMA
from verification_pipeline.reachability import check_reachable
from verification_pipeline.records import ServiceBuildRecord, SloSpecRecord
from verification_pipeline.slo.overload import GATES, not_measured_document, overload_document, phase_inputs
from verification_pipeline.slo.spec import SloSpec, load_slo_spec

CODE_VERSION = code_version(__name__)


class OverloadConfig(dg.Config):
    source: str = "run"
    """`run`: drive the target past its limit; `import` (CI's split jobs: the load was imported and
    there is no service to drive): NOT MEASURED, a WARN that says so."""


def _check_name(gate: str) -> str:
    return gate.split(":", 1)[1]


@dg.asset(
    partitions_def=release_candidates,
    code_version=CODE_VERSION,
    group_name="load",
    kinds={"k6", "polars"},
    # After the SLO load and the fan-out probe, never beside them (load never measures itself): the
    # edges order it in every executor, the pool keeps another run's load off the target meanwhile.
    deps=["read_load_samples", "write_load_samples", "fanout_latencies"],
    pool="load_target",
    description="Tenant A driven at a multiple of its declared rate limit (slos.yaml cost_controls) with a "
    "constant-arrival-rate k6 run while tenant B keeps its normal rate, then recovery: offered, admitted and "
    "refused per second, 429 + Retry-After, the admitted and the neighbour's p95, recovery seconds.",
    check_specs=[
        dg.AssetCheckSpec(
            _check_name(gate),
            asset="overload_phase",
            partitions_def=release_candidates,
            description=f"{gate} ({OVERLOAD_DOCUMENT})",
        )
        for gate in GATES
    ],
)
def overload_phase(
    context: dg.AssetExecutionContext,
    config: OverloadConfig,
    s3: S3Resource,
    target: TargetResource,
    overload: OverloadResource,
    cost: CostResource,
    slo_spec: SloSpecRecord,
    service_build: ServiceBuildRecord,  # no load before the build under test is shown to be the RC (or waived)
) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    spec = load_slo_spec(slo_spec.yaml.encode(), source=slo_spec.source)
    rows = pl.DataFrame(schema=ROWS_SCHEMA)
    if config.source not in ("run", "import"):
        raise ConfigError(
            f"unknown source {config.source!r}",
            field="overload_phase.config.source",
            hint="use run or import",
        )
    tenants, source = overload.tenants(target)
    controls = spec.cost_controls
    why_not = _not_measured(config, controls, overload, tenants, source)
    if why_not is None and controls is not None and tenants is not None:  # the last two: why_not says so
        # the service's resource figures around this phase too (cost_per_request reads them)
        with resources_during(context, target, cost, s3, spec.cost, phase="overload"):
            rows, document = _drive_past_limit(
                context, target, overload, spec, controls, tenants, source, service_build.described()
            )
    else:
        document = not_measured_document(why_not or "")
    files = document_and_rows(OVERLOAD_DOCUMENT, document, OVERLOAD_ROWS, rows)
    yield dg.Output(
        document, metadata={**_metadata(document, rows, source), **bundle_files_metadata(context, s3, files)}
    )
    for gate in overload_gates(document):
        yield verdict_check(gate.check_name, gate.verdict, gate.reason)


def _not_measured(
    config: OverloadConfig,
    controls: CostControls | None,
    overload: OverloadResource,
    tenants: OverloadTenants | None,
    source: str,
) -> str | None:
    """Why no service is driven past its limit in this run (None: it is)."""
    if config.source == "import":
        return "the load was imported (CI's k6 files): no service was driven past its limit"
    if controls is None:
        return "slos.yaml declares no cost_controls"
    if not overload.enabled:
        return "the overload phase was turned off (VP_OVERLOAD=off)"
    if tenants is None:
        return f"no tokens for two tenants under the limit: {source}"
    return None


def _drive_past_limit(
    context: dg.AssetExecutionContext,
    target: TargetResource,
    overload: OverloadResource,
    spec: SloSpec,
    controls: CostControls,
    tenants: OverloadTenants,
    source: str,
    build: str,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Tenant A past its limit beside tenant B, then recovery: the k6 rows and slo/overload.json."""
    timing = PhaseTiming(
        overload.duration_s or controls.overload_duration_s,
        overload.recovery_s or controls.recovery_window_s,
    )
    check_reachable(target.graphql_url)
    context.log.info(
        f"overload: tenant A at {controls.offered_rps:g}/s (limit {controls.tenant_rps_limit:g}/s) for "
        f"{timing.overload_s:g} s, tenant B at {controls.neighbour_rps:g}/s, then {timing.recovery_s:g} s of "
        f"recovery at {controls.recovery_rps:g}/s (service build {build})"
    )
    with phase_sampler(target, []) as sampler:  # k6's own CPU and wait: did it measure itself?
        rows = run_overload(
            target.graphql_url,
            tenants,
            controls,
            timing,
            on_start=sampler.add_client,
            on_line=lambda line: (
                context.log.info(f"k6 overload: {line.strip()}") if "level=error" in line else None
            ),
        )
    health = phase_record(
        "overload",
        "k6",
        sampler.samples,
        cores=sampler.cores,
        dropped_iterations=int(rows["dropped"].sum()),
    )
    inputs = phase_inputs(
        spec,
        overload_s=timing.overload_s,
        recovery_s=timing.recovery_s,
        tenants={"a": tenants.tenant_a, "b": tenants.tenant_b, "tokens": source},
        client_health=health,
    )
    if (timing.overload_s, timing.recovery_s) != (controls.overload_duration_s, controls.recovery_window_s):
        inputs["shortened"] = (
            f"the overload ran {timing.overload_s:g} s and recovery {timing.recovery_s:g} s, not the declared "
            f"{controls.overload_duration_s:g} s and {controls.recovery_window_s:g} s "
            "(VP_OVERLOAD_DURATION_S, VP_OVERLOAD_RECOVERY_S)"
        )
    return rows, overload_document(rows, inputs)


def _metadata(document: dict[str, Any], rows: pl.DataFrame, source: str) -> dict[str, Any]:
    """The asset's figures in the UI: verdict, requests, rates, recovery (-1: not measured), tokens."""
    figures = document.get("figures") or {}
    return {
        "verdict": document["verdict"],
        "requests": rows.height,
        "offered_rps": figures.get("offered_rps") or 0.0,
        "admitted_rps": figures.get("admitted_rps") or 0.0,
        "refused_rps": figures.get("refused_rps") or 0.0,
        "recovery_s": figures.get("recovery_s") if figures.get("recovery_s") is not None else -1.0,
        "tokens": source,
    }
