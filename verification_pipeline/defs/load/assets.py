"""Load samples: k6 against the target (in parallel execution segments) or CI's k6 output.

One graph-backed multi-asset, so a split test is N steps (N pods on Kubernetes), each running
the read and write scripts for its execution segment; the merge step joins the raw rows
before anything is summarized, because percentiles of a split test come from merged points.
"""

import contextlib
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from verification_pipeline.code_version import code_version
from verification_pipeline.defs.authz.during_load import forbidden_requests_during
from verification_pipeline.defs.authz.resources import AuthzResource
from verification_pipeline.defs.cost.during import resources_during
from verification_pipeline.defs.cost.resources import CostResource
from verification_pipeline.defs.evidence.files import stored_value_metadata
from verification_pipeline.defs.health import health_metadata, phase_sampler
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.slo.resources import SloResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.storage.sources import read_source
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.layout import (
    CONCURRENT_BASELINE_STEM,
    bundle_file,
    k6_dashboard_name,
    raw_name,
)
from verification_pipeline.health.assess import phase_record
from verification_pipeline.loadtest.ingest import DROPPED, SAMPLE_SCHEMA, ingest, merge_segments
from verification_pipeline.loadtest.progress import K6Progress, is_log_line
from verification_pipeline.loadtest.runner import (
    ROLES,
    ExecutionSegment,
    execution_segments,
    run_k6,
    script_path,
)
from verification_pipeline.loadtest.sides import split_sides
from verification_pipeline.loadtest.summary import summarize
from verification_pipeline.reachability import check_reachable
from verification_pipeline.records import LoadPlan, ServiceBuildRecord
from verification_pipeline.storage.serialize import encode

SEED_VUS = {"read": 50, "write": 20}
SEED_DURATION = "3m"
CODE_VERSION = code_version(__name__)
LOAD_ASSET = "load_samples"
LOAD_SAMPLE_ASSETS = ("read_load_samples", "write_load_samples", "concurrent_baseline_samples")
"""The assets of the one load step, materialized together (it cannot be subset)."""
PLAN_OP = "plan_load_segments"


def load_run_config(config: dict) -> dict:
    """Run config that gives the load plan `config` (`LoadConfig` fields): the one place its op path is spelled."""
    return {"ops": {LOAD_ASSET: {"ops": {PLAN_OP: {"config": config}}}}}


class LoadResource(dg.ConfigurableResource):
    """Load defaults a deployment sets once (VP_LOAD_DURATION); run config overrides them per run."""

    duration: str = SEED_DURATION


class LoadConfig(dg.Config):
    source: str = "run"
    """`run`: drive k6 against the target; `import`: read k6 `--out json` / `--out csv` files CI produced."""
    duration: str = ""
    """k6 duration per script (default: the `load` resource's, VP_LOAD_DURATION, else the seed's 3m)."""
    executor: str = "vus"
    """`vus` (closed model, the seed's) or `arrival` (open model, constant-arrival-rate)."""
    read_vus: int = SEED_VUS["read"]
    write_vus: int = SEED_VUS["write"]
    read_rate: float = 0.0
    write_rate: float = 0.0
    request_timeout: str = "60s"
    """k6's timeout per request (a k6 duration, e.g. 10s); a request that runs out is a failure
    of kind `timeout`."""
    segments: int = 1
    """Split the test into N k6 processes (execution segments), each its own step."""
    start_delay_s: float = 15.0
    """Split load only: segments start together this long after planning, so step (pod) start-up
    does not spread them out; a segment whose step starts later begins at once and says so."""
    read_files: list[str] = Field(default_factory=list)
    """Import: k6 outputs of the read test (paths or s3:// URIs); several files are segments."""
    write_files: list[str] = Field(default_factory=list)


# A k6 duration: one or more number-unit pairs (`500ms`, `10s`, `1m30s`).
K6_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")


@dg.op(
    name=PLAN_OP,
    out=dg.DynamicOut(LoadPlan),
    description="One plan per execution segment (or one import), once the service's build is the RC's.",
)
def plan_load_segments(
    context: dg.OpExecutionContext, config: LoadConfig, load: LoadResource, service_build: ServiceBuildRecord
) -> Iterator[dg.DynamicOutput[LoadPlan]]:
    # `service_build` is here so no load starts before the build under test was shown to be the RC
    # (or the check was waived), and so a missing RC tag fails in seconds, not after the load.
    context.log.info(f"service build: {service_build.described()}")
    duration = config.duration or load.duration
    if config.source == "import":
        if not config.read_files and not config.write_files:
            raise ConfigError("import needs read_files and/or write_files", field="read_files")
        yield dg.DynamicOutput(
            LoadPlan(
                mode="import", read_files=tuple(config.read_files), write_files=tuple(config.write_files)
            ),
            mapping_key="import",
        )
        return
    if config.source != "run":
        raise ConfigError(f"unknown source {config.source!r}", field="source", hint="use run or import")
    for role, vus in (("read_vus", config.read_vus), ("write_vus", config.write_vus)):
        if config.executor == "vus" and vus < config.segments:
            raise ConfigError(
                f"{vus} VUs cannot be split into {config.segments} segments: a segment would get none",
                field=role,
                hint="give every segment at least one VU, or use fewer segments",
            )
    if not K6_DURATION.fullmatch(config.request_timeout):
        raise ConfigError(
            f"{config.request_timeout!r} is not a k6 duration",
            field="request_timeout",
            hint="e.g. 500ms, 10s, 1m30s",
        )
    every_segment = LoadPlan(
        mode="run",
        duration=duration,
        timeout=config.request_timeout,
        executor=config.executor,
        vus={"read": config.read_vus, "write": config.write_vus},
        rate={"read": config.read_rate, "write": config.write_rate},
        segments=config.segments,
        start_at=time.time() + config.start_delay_s if config.segments > 1 else None,
    )
    for index, segment in enumerate(execution_segments(config.segments)):
        plan = every_segment.model_copy(
            update={"index": index, "segment": segment.segment, "sequence": segment.sequence}
        )
        yield dg.DynamicOutput(plan, mapping_key=f"segment_{index}")
    context.log.info(f"load test: {config.segments} segment(s) of {duration}, executor {config.executor}")


def _k6_env(target: TargetResource, token: str, plan: LoadPlan, role: str) -> dict[str, str]:
    """The script's settings for one role of the plan (tokens are passed as secrets by run_k6)."""
    env = {
        "GRAPHQL_URL": target.graphql_url,
        "JWT": token,
        "TENANT": target.tenant,
        "EXECUTOR": plan.executor,
        "VUS": str(plan.vus[role]),
        "DURATION": plan.duration,
        "TIMEOUT": plan.timeout,
    }
    if plan.executor == "arrival":
        env["RATE"] = str(plan.rate[role])
    if target.baseline_graphql_url:  # one k6, each iteration to this RC or the baseline at random
        env["BASELINE_GRAPHQL_URL"] = target.baseline_graphql_url
        env["BASELINE_JWT"] = target.baseline_token()
    return env


class _K6Log:
    """k6's output in the Dagster log: progress once per 5 s, errors as they come, warnings counted."""

    def __init__(self, context: dg.OpExecutionContext, role: str) -> None:
        self.context, self.role = context, role
        self.last = 0.0
        self.warnings = 0
        """Since the last progress line."""
        self.all_warnings = 0

    def on_progress(self, progress: K6Progress) -> None:
        # k6 reports progress about once a second: one line per 5 s keeps the Dagster log readable
        if time.monotonic() - self.last > 5 or progress.elapsed_s >= progress.total_s:
            self.last = time.monotonic()
            suffix = f" ({self.warnings} k6 warnings since the last line)" if self.warnings else ""
            self.warnings = 0
            self.context.log.info(f"k6 {self.role}: {progress.text()}{suffix}")

    def on_line(self, line: str) -> None:
        # k6 warns once per failed request: count warnings, log errors; banner and summary are not news
        if not is_log_line(line):
            return
        if "level=error" in line:
            self.context.log.info(f"k6 {self.role}: {line.strip()}")
        elif "level=warn" in line:
            self.warnings += 1
            self.all_warnings += 1


def _run_role(
    context: dg.OpExecutionContext,
    target: TargetResource,
    s3: S3Resource,
    token: str,
    plan: LoadPlan,
    role: str,
    workdir: Path,
    stop: threading.Event,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, str]], dict]:
    log = _K6Log(context, role)
    segment = ExecutionSegment(plan.segment, plan.sequence) if plan.segments > 1 else None
    out = workdir / f"{role}.json"
    dashboard = workdir / f"{role}-dashboard.html"
    with phase_sampler(target, []) as sampler:
        run = run_k6(
            script_path(role),
            out,
            env=_k6_env(target, token, plan, role),
            segment=segment,
            on_line=log.on_line,
            on_progress=log.on_progress,
            dashboard_path=dashboard,
            stop=stop,
            on_start=sampler.add_client,
            secret_env=("JWT", "BASELINE_JWT"),
        )
    if run.thresholds_crossed:
        context.log.warning(
            f"k6 {role}: a threshold in the script was crossed (exit 99); the SLO verdict decides"
        )
    samples, baseline = split_sides(ingest(out, role=role, segment=plan.segment))
    health = phase_record(
        role,
        "k6",
        sampler.samples,
        cores=sampler.cores,
        dropped_iterations=samples.filter(pl.col("failure") == DROPPED).height,
        k6_warnings=log.all_warnings,
    )
    return samples, baseline, _keep_dashboard(context, s3, plan, role, dashboard), health


def _keep_dashboard(
    context: dg.OpExecutionContext, s3: S3Resource, plan: LoadPlan, role: str, path: Path
) -> dict[str, dict[str, str]]:
    """Store k6's exported web dashboard beside the run's originals: bundle name -> where it is kept."""
    if not path.exists():
        context.log.info(f"k6 {role}: no web dashboard exported (k6 skips it for very short tests)")
        return {}
    store = s3.store()
    key = store.key(
        context.partition_key, "originals", context.run.run_id, "k6-dashboard", f"{role}-{plan.index}.html"
    )
    ref = store.put_bytes(key, path.read_bytes())
    name = k6_dashboard_name(role, plan.index if plan.segments > 1 else None)
    return {name: {"uri": ref.uri, "sha256": ref.sha256}}


@dg.op(
    out={
        "read": dg.Out(pl.DataFrame),
        "write": dg.Out(pl.DataFrame),
        "dashboards": dg.Out(dict),
        "health": dg.Out(list),
        "baseline": dg.Out(pl.DataFrame),
    },
    tags={"vp/step": "load"},
    pool="load_target",
    description="Runs the read and write k6 scripts at once for one execution segment (or ingests CI files).",
)
def run_load_segment(
    context: dg.OpExecutionContext,
    target: TargetResource,
    s3: S3Resource,
    authz: AuthzResource,
    cost: CostResource,
    slos: SloResource,
    plan: LoadPlan,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, str]], list[dict], pl.DataFrame]:
    if plan.mode == "import":
        return _import_segment(context, s3, plan)
    token = target.token()
    check_reachable(target.graphql_url)
    _wait_for_start(context, plan)
    # forbidden requests go beside the load, in their own rows (authz_under_load)
    # the service's resource figures around the load (cost_per_request): read once, by segment 0,
    # as the service's counters count every segment's requests (and the concurrent baseline's, its own)
    measured = (
        resources_during(context, target, cost, s3, slos.spec().cost, phase="slo_load", baseline=True)
        if plan.index == 0
        else contextlib.nullcontext()
    )
    with measured, forbidden_requests_during(context, target, authz, s3, plan.index):
        results, errors = _run_roles(context, target, s3, token, plan)
    if errors:  # raised once what was read around the load is kept
        raise errors[0]
    for role in ROLES:
        context.log.info(f"segment {plan.segment}: {results[role][0].height} {role} requests")
    dashboards = {name: kept for role in ROLES for name, kept in results[role][2].items()}
    baseline = pl.concat([results[role][1] for role in ROLES], how="vertical").sort(
        "timestamp", maintain_order=True
    )
    if target.baseline_graphql_url:
        context.log.info(
            f"segment {plan.segment}: concurrent baseline {target.baseline_graphql_url}: "
            + ", ".join(f"{results[role][1].height} {role}" for role in ROLES)
            + " requests"
        )
    return (
        results["read"][0],
        results["write"][0],
        dashboards,
        [results[role][3] for role in ROLES],
        baseline,
    )


def _import_segment(
    context: dg.OpExecutionContext, s3: S3Resource, plan: LoadPlan
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, str]], list[dict], pl.DataFrame]:
    """CI's k6 files, one frame per role (segments merged); no dashboards, health or baseline rows."""
    frames = {}
    for role in ROLES:
        parts = [ingest(read_source(ref, s3), role=role, name=ref, segment=ref) for ref in plan.files(role)]
        frames[role] = merge_segments(parts)
        context.log.info(f"imported {len(parts)} {role} file(s): {frames[role].height} requests")
    return frames["read"], frames["write"], {}, [], pl.DataFrame(schema=SAMPLE_SCHEMA)


def _run_roles(
    context: dg.OpExecutionContext, target: TargetResource, s3: S3Resource, token: str, plan: LoadPlan
) -> tuple[dict[str, tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, str]], dict]], list[Exception]]:
    """The read and write scripts at once, one thread each: each role's results, and what failed
    (the first failure stops the other)."""
    results: dict[str, tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, str]], dict]] = {}
    errors: list[Exception] = []
    stop = threading.Event()  # one k6 failing stops the other: no load without a measurement
    with tempfile.TemporaryDirectory(prefix="vp-k6-") as workdir:

        def work(role: str) -> None:
            try:
                results[role] = _run_role(context, target, s3, token, plan, role, Path(workdir), stop)
            except Exception as exc:  # noqa: BLE001 - re-raised below, in the step's own thread
                errors.append(exc)
                stop.set()

        threads = [threading.Thread(target=work, args=(role,)) for role in ROLES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return results, errors


def _wait_for_start(context: dg.OpExecutionContext, plan: LoadPlan) -> None:
    """Split load is only split load if the segments overlap: start at the planned moment."""
    if plan.start_at is None:
        return
    delay = plan.start_at - time.time()
    if delay > 0:
        context.log.info(f"segment {plan.segment}: starting with the other segments in {delay:.1f}s")
        time.sleep(delay)
    else:
        context.log.warning(
            f"segment {plan.segment}: its step started {-delay:.1f}s after the planned start; "
            "raise start_delay_s so the segments overlap"
        )


def _merged_output(
    frames: list[pl.DataFrame],
    role: str,
    dashboards: list[dict[str, dict[str, str]]],
    health: list[list[dict]],
) -> dg.Output:
    samples = merge_segments(frames)
    summary = summarize(samples).get(role) or summarize(samples)["all"]
    duration = summary.get("http_req_duration", {})
    failures = summary.get("request_failures", {})
    encoded = encode(samples)
    table = "\n".join(
        f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in duration.items()
        if v is not None
    )
    return dg.Output(
        samples,
        data_version=dg.DataVersion(encoded.sha256),
        metadata={
            "requests": samples.height,
            "segments": samples["segment"].n_unique() if samples.height else 0,
            "failures": int(failures.get("count", 0) or 0),
            "summary": dg.MetadataValue.md(
                f"**{role} latency (ms), k6 summary shape**\n\n| stat | value |\n| --- | --- |\n{table}"
            ),
            **health_metadata([phase for found in health for phase in found if phase["phase"] == role]),
            # the raw table is the stored value; k6's dashboards of this op (one per segment) were kept by the steps
            **stored_value_metadata(
                raw_name(role),
                kept={
                    name: where
                    for found in dashboards
                    for name, where in found.items()
                    if (entry := bundle_file(name, "")) is not None and entry.asset == f"{role}_load_samples"
                },
            ),
        },
    )


@dg.op(out=dg.Out(pl.DataFrame, io_manager_key="io_manager"))
def merge_read_samples(
    frames: list[pl.DataFrame], dashboards: list[dict[str, dict[str, str]]], health: list[list[dict]]
) -> dg.Output[pl.DataFrame]:
    return _merged_output(frames, "read", dashboards, health)


@dg.op(out=dg.Out(pl.DataFrame, io_manager_key="io_manager"))
def merge_write_samples(
    frames: list[pl.DataFrame], dashboards: list[dict[str, dict[str, str]]], health: list[list[dict]]
) -> dg.Output[pl.DataFrame]:
    return _merged_output(frames, "write", dashboards, health)


@dg.op(out=dg.Out(pl.DataFrame, io_manager_key="io_manager"))
def merge_baseline_samples(frames: list[pl.DataFrame]) -> dg.Output[pl.DataFrame]:
    """The concurrent baseline's read and write rows of every segment (none without a baseline)."""
    samples = merge_segments(frames)
    return dg.Output(
        samples,
        data_version=dg.DataVersion(encode(samples).sha256),
        metadata={
            "requests": samples.height,
            **{f"{role}_requests": samples.filter(pl.col("op") == role).height for role in ROLES},
            **stored_value_metadata(raw_name(CONCURRENT_BASELINE_STEM)),
        },
    )


@dg.graph_multi_asset(
    outs={
        "read_load_samples": dg.AssetOut(
            code_version=CODE_VERSION,
            kinds={"k6", "polars"},
            description="One row per read request: UTC timestamp, op, latency ms, status, ok, failure kind, scenario, segment.",
        ),
        "write_load_samples": dg.AssetOut(
            code_version=CODE_VERSION,
            kinds={"k6", "polars"},
            description="One row per write request, with the Server-Timing ingest ms the target reported.",
        ),
        "concurrent_baseline_samples": dg.AssetOut(
            code_version=CODE_VERSION,
            kinds={"k6", "polars"},
            description="The concurrent baseline's rows (read and write, `op` says which), measured in the "
            "same k6 run as this RC, each iteration to one side at random; empty without a baseline deployment.",
        ),
    },
    name=LOAD_ASSET,
    partitions_def=release_candidates,
    group_name="load",
)
def load_samples(service_build: Any) -> dict[str, Any]:  # Dagster graph wiring: node outputs, not values
    plans = plan_load_segments(service_build)
    read, write, dashboards, health, baseline = plans.map(run_load_segment)
    return {
        "concurrent_baseline_samples": merge_baseline_samples(baseline.collect()),
        "read_load_samples": merge_read_samples(read.collect(), dashboards.collect(), health.collect()),
        "write_load_samples": merge_write_samples(write.collect(), dashboards.collect(), health.collect()),
    }
