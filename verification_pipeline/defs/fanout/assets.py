"""Fan-out latencies: many Socket.IO subscribers, every (subscriber, event) pair accounted for."""

import os

import dagster as dg
import polars as pl

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.evidence.files import stored_value_metadata
from verification_pipeline.defs.health import health_metadata, phase_sampler
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import original_metadata, read_source, store_original
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import raw_name
from verification_pipeline.fanout.accounting import DELIVERY_SCHEMA
from verification_pipeline.fanout.probe import ProbeConfig, run_probe
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
    service_build: ServiceBuildRecord,  # no probe before the build under test is shown to be the RC (or waived)
) -> dg.Output[pl.DataFrame]:
    if config.source == "import":
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

    logged: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        # one line per phase per tenth of the way, not one per publish
        step = max(total // 10, 1)
        if done == total or done // step != logged.get(phase, -1):
            logged[phase] = done // step
            context.log.info(f"fan-out probe: {phase} {done}/{total}")

    # the probe's clients: this process (the publisher) and its subscriber processes
    with phase_sampler(target, [os.getpid()], with_descendants=False) as sampler:
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
            "p95_ms": _rounded(metrics["p95_ms"]),
            "delivery_ratio": _rounded(metrics["delivery_ratio"], 6),
            "late": metrics["late"],
            "lost": metrics["lost"],
            "duplicates": metrics["duplicates"],
            "loop_lag_p99_ms": _rounded(metrics["loop_lag_p99_ms"]),
            "loop_lag_p99_ms_by_process": {
                process: _rounded(lag) for process, lag in metrics["loop_lag_p99_ms_by_process"].items()
            },
            "charts": dg.MetadataValue.md(fanout_chart_markdown(result.deliveries)),
            **health_metadata([health]),
            **stored_value_metadata(raw_name("fanout")),
        },
    )


def _rounded(value: float | None, digits: int = 2) -> float | None:
    """A figure for display; the exact value is in the stored deliveries."""
    return None if value is None else round(value, digits)
