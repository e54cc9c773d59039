"""Fan-out latencies: many Socket.IO subscribers, every (subscriber, event) pair accounted for."""

import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.authz.during_load import cross_tenant_subscribers_during
from verification_pipeline.defs.authz.resources import AuthzResource
from verification_pipeline.defs.evidence.files import stored_value_metadata
from verification_pipeline.defs.health import health_metadata, phase_sampler
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import original_metadata, read_source, store_original
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import CONCURRENT_BASELINE_FANOUT_STEM, raw_name
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.fanout.probe import ProbeConfig, ProbeResult, run_probe
from verification_pipeline.fanout.seed_import import import_seed_fanout
from verification_pipeline.health.assess import phase_record
from verification_pipeline.records import ServiceBuildRecord
from verification_pipeline.report.markdown import fanout_chart_markdown
from verification_pipeline.storage.serialize import encode


class FanoutConfig(dg.Config):
    source: str = "run"
    """`run`: the probe against the target; `import`: a seed-shaped fanout.json from CI (summary only)."""
    subscribers: int = 50
    events: int = 200
    rate: float = 0.0
    """Events per second; 0 publishes at the seed's cadence (publish, then 10 ms)."""
    grace_ms: float = 5000.0
    request_timeout_s: float = 10.0
    """How long one publish may take before it counts as a failed publish."""
    path: str = ""
    """Import: path or s3:// URI of the fanout.json."""


@dg.asset(
    partitions_def=release_candidates,
    code_version=code_version(__name__),
    group_name="load",
    kinds={"socketio", "polars"},
    description=(
        "One row per (subscriber, event): delivered, late, lost or duplicate, with latency = receive - _t0. "
        "Runs after the k6 load (an ordering edge: no data flows from it)."
    ),
    # The probe and the k6 load both drive the target. In-process they ran one after the other;
    # forked or in pods they would overlap on the same cores and each would measure the other's
    # load, so the figures would depend on the executor. The edge orders them in every executor;
    # the pool keeps another run's load off the target while the probe runs.
    deps=["read_load_samples", "write_load_samples"],
    pool="load_target",
)
def fanout_latencies(
    context: dg.AssetExecutionContext,
    config: FanoutConfig,
    target: TargetResource,
    s3: S3Resource,
    authz: AuthzResource,
    service_build: ServiceBuildRecord,  # no probe before the build under test is shown to be the RC (or waived)
) -> dg.Output[pl.DataFrame]:
    if config.source == "import":
        return _imported(context, config, s3)
    if config.source != "run":
        raise ConfigError(
            f"unknown source {config.source!r}",
            field="fanout_latencies.config.source",
            hint="use run or import",
        )
    probe = ProbeConfig(
        url=target.graphql_url,
        token=target.token(),
        tenant=target.tenant,
        subscribers=config.subscribers,
        events=config.events,
        rate=config.rate or None,
        grace_ms=config.grace_ms,
        request_timeout_s=config.request_timeout_s,
    )

    progress = _progress_log(context)
    # the probe's clients: this process (the publisher) and its subscriber processes
    baseline: ProbeResult | None = None
    # beside them, a few subscribers asking for another tenant's room (authz_under_load)
    with (
        cross_tenant_subscribers_during(context, target, authz, s3, config.subscribers, probe.socketio_url),
        phase_sampler(target, [os.getpid()], with_descendants=False) as sampler,
    ):
        if target.baseline_graphql_url:
            result, baseline = _alternated(context, probe, target, progress, sampler.add_client)
        else:
            result = run_probe(probe, progress=progress, on_worker=sampler.add_client)
    metrics = result.metrics()
    health = phase_record(
        "fanout",
        "the fan-out probe",
        sampler.samples,
        cores=sampler.cores,
        loop_lag_p99_ms=metrics["loop_lag_p99_ms"],
    )
    return dg.Output(
        result.deliveries,
        data_version=dg.DataVersion(encode(result.deliveries).sha256),
        metadata={
            "evidence": "raw",
            "subscribers": config.subscribers,
            "events": config.events,
            **_figures_metadata(metrics),
            "charts": dg.MetadataValue.md(fanout_chart_markdown(result.deliveries)),
            **health_metadata([health]),
            **stored_value_metadata(raw_name("fanout"), kept=_keep_baseline(context, s3, baseline)),
        },
    )


def _imported(
    context: dg.AssetExecutionContext, config: FanoutConfig, s3: S3Resource
) -> dg.Output[pl.DataFrame]:
    """A seed-shaped fanout.json from CI: its summary only, the original kept; no raw deliveries."""
    if not config.path:
        raise ConfigError("import needs the fanout.json path", field="fanout_latencies.config.path")
    data = read_source(config.path, s3)
    summary = import_seed_fanout(data, config.path)
    ref = store_original(context, s3, "fanout.json", data)
    deliveries = pl.DataFrame(schema=DELIVERY_SCHEMA)
    metadata = {
        **original_metadata(ref),
        "evidence": "summary-only",
        "p95_ms": summary["p95_ms"],
        "count": summary["count"],
    }
    return dg.Output(deliveries, data_version=dg.DataVersion(ref.sha256), metadata=metadata)


def _progress_log(context: dg.AssetExecutionContext) -> Callable[[str, int, int], None]:
    """The probe's progress in the run's log: one line per phase per tenth of the way, not one per publish."""
    logged: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        step = max(total // 10, 1)
        if done == total or done // step != logged.get(phase, -1):
            logged[phase] = done // step
            context.log.info(f"fan-out probe: {phase} {done}/{total}")

    return progress


def _figures_metadata(metrics: dict[str, Any]) -> dict[str, Any]:
    """The probe's figures for display (rounded; the exact values are in the stored deliveries)."""
    return {
        "p95_ms": _rounded(metrics["p95_ms"]),
        "delivery_ratio": _rounded(metrics["delivery_ratio"], 6),
        "late": metrics["late"],
        "lost": metrics["lost"],
        "duplicates": metrics["duplicates"],
        "loop_lag_p99_ms": _rounded(metrics["loop_lag_p99_ms"]),
        "loop_lag_p99_ms_by_process": {
            process: _rounded(lag) for process, lag in metrics["loop_lag_p99_ms_by_process"].items()
        },
    }


ROUNDS = ("current", "baseline", "baseline", "current") * 3
"""The concurrent baseline's probe rounds: ABBA three times, so a drift of the machine over the
phase weighs on both sides alike (each side gets half the events, in six rounds), and the
comparison pairs each round with its neighbour (`compare.paired.paired_rounds`: six pairs, its
minimum; 12 rounds were chosen by simulation against 16-24, benchmarks/RESULTS.md)."""


def _alternated(
    context: dg.AssetExecutionContext,
    probe: ProbeConfig,
    target: TargetResource,
    progress: Callable[[str, int, int], None],
    on_worker: Callable[[int], None],
) -> tuple[ProbeResult, ProbeResult]:
    """The probe alternating between this RC and the baseline deployment: (this RC's, the baseline's)."""
    per_round = max(1, math.ceil(probe.events / len(ROUNDS)))
    sides = {
        "current": replace(probe, events=per_round),
        "baseline": replace(
            probe, url=target.baseline_graphql_url, token=target.baseline_token(), events=per_round
        ),
    }
    results: dict[str, list[ProbeResult]] = {"current": [], "baseline": []}
    for number, side in enumerate(ROUNDS, start=1):
        context.log.info(f"fan-out probe: round {number}/{len(ROUNDS)} against {side}")
        results[side].append(run_probe(sides[side], progress=progress, on_worker=on_worker))
    return _joined(results["current"]), _joined(results["baseline"])


def _joined(rounds: list[ProbeResult]) -> ProbeResult:
    """One side's rounds as one result (rows in time order; counts summed)."""
    return ProbeResult(
        deliveries=pl.concat([r.deliveries for r in rounds], how="vertical"),
        loop_lag=pl.concat([r.loop_lag for r in rounds], how="vertical"),
        publish_failures=[failure for r in rounds for failure in r.publish_failures],
        foreign_events=sum(r.foreign_events for r in rounds),
        disconnects=sum(r.disconnects for r in rounds),
        processes=max(r.processes for r in rounds),
    )


def _keep_baseline(
    context: dg.AssetExecutionContext, s3: S3Resource, baseline: ProbeResult | None
) -> dict[str, dict[str, str]]:
    """The baseline's deliveries stored beside the run's originals: bundle name -> where kept."""
    if baseline is None:
        return {}
    name = raw_name(CONCURRENT_BASELINE_FANOUT_STEM)
    store = s3.store()
    key = store.key(context.partition_key, "originals", context.run.run_id, "baseline-fanout.parquet")
    ref = store.put_bytes(key, encode(baseline.deliveries).data)
    return {name: {"uri": ref.uri, "sha256": ref.sha256}}


def _rounded(value: float | None, digits: int = 2) -> float | None:
    """A figure for display; the exact value is in the stored deliveries."""
    return None if value is None else round(value, digits)
