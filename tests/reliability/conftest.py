"""Faults and secrets: the pipeline's own fixtures, plus a store we may kill and a disk we may fill.

The pipeline fixtures (`pipeline_env`: VP_S3_* of the shared SeaweedFS, the shared target and a
token, a fresh signing key, the looser test SLOs, the demo scan reports; `instance`: a throwaway
persistent Dagster instance) come from tests/pipeline/conftest.py unchanged. What is new here
is only what a fault needs: a private SeaweedFS (`private_store`) so killing it hurts no other
test, a tiny tmpfs (`tiny_disk`), and helpers to run a few assets and read why a step failed.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest

from tests.pipeline import conftest as pipeline_fixtures
from tests.pipeline.conftest import RC, definitions
from tests.plugins.stack import free_port_base
from verification_pipeline.defs.job import JOB
from verification_pipeline.defs.load.assets import LOAD_SAMPLE_ASSETS, load_run_config
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.errors import PipelineError
from verification_pipeline.stack.control import Stack, StackLayout
from verification_pipeline.storage.s3 import ObjectStore, S3Settings

# The end-to-end tests' fixtures, reused as they are.
pipeline_env = pipeline_fixtures.pipeline_env
instance = pipeline_fixtures.instance

LOAD_ASSETS = tuple(dg.AssetKey(name) for name in LOAD_SAMPLE_ASSETS)  # the load step makes all three
BUILD_CHECK = (dg.AssetKey("release_candidate"), dg.AssetKey("service_build"))
"""What every load and fan-out step needs first: the RC, and the check that the target serves its build."""


def waive_build_check(run_config: dict) -> dict:
    """`run_config` with the service-build check waived: for tests of a load step itself against a
    target that cannot answer (which would otherwise stop the run at the check, before any load)."""
    waiver = {
        "config": {"waive": True, "waiver_reason": "a test of the load step against an unreachable target"}
    }
    return {**run_config, "ops": {**run_config.get("ops", {}), "service_build": waiver}}


# Every asset of the job but the two that sign and judge: what evidence_bundle is built from.
UPSTREAM_OF_BUNDLE = tuple(
    dg.AssetKey(name)
    for name in (
        "release_candidate",
        "slo_spec",
        *LOAD_SAMPLE_ASSETS,
        "fanout_latencies",
        "authz_under_load",
        "overload_phase",
        "cost_per_request",
        "sbom",
        "vulnerability_report",
        "policy_report",
        "scan_summary",
        "slo_metrics",
        "baseline_comparison",
        "ops_artifacts",
        "release_docs",
        "report",
    )
)


def _family(cls: type) -> set[str]:
    return {cls.__name__}.union(*(_family(sub) for sub in cls.__subclasses__()))


# Our error family: what a step may fail with on purpose (verification_pipeline/errors.py).
PIPELINE_ERRORS = _family(PipelineError)


def load_config(duration: str, read_vus: int = 2, write_vus: int = 1, **settings: object) -> dict:
    """Run config for the load assets alone."""
    return load_run_config({"duration": duration, "read_vus": read_vus, "write_vus": write_vus, **settings})


def run_assets(
    instance: dg.DagsterInstance,
    selection: Iterable[dg.AssetKey] | None,
    run_config: dict | None = None,
    rc: str = RC,
) -> dg.ExecuteInProcessResult:
    """Materialize `selection` (None: the whole job) of one RC in this process, never raising.

    A selection always includes BUILD_CHECK, which every measuring step depends on."""
    instance.add_dynamic_partitions(release_candidates.name, [rc])
    job = definitions().resolve_job_def(JOB)
    return job.execute_in_process(
        partition_key=rc,
        instance=instance,
        run_config=run_config or {},
        asset_selection=list(dict.fromkeys([*BUILD_CHECK, *selection])) if selection is not None else None,
        raise_on_error=False,
    )


@dataclass(frozen=True)
class StepFailure:
    step_key: str
    cls_name: str
    message: str
    """The message of our own error (the first of PIPELINE_ERRORS in the cause chain)."""
    full_text: str
    """Every message and stack in the chain, for searching (secrets) or for showing in an assert."""


def step_failures(instance: dg.DagsterInstance, run_id: str) -> dict[str, StepFailure]:
    """Why each failed step of a run failed: our error's class and message, found in the cause chain."""
    failures = {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    for record in records:
        event = record.event_log_entry.dagster_event
        chain, error = [], event.step_failure_data.error
        while error is not None:
            chain.append(error)
            error = error.cause or error.context
        ours = next((e for e in chain if e.cls_name in PIPELINE_ERRORS), chain[0])
        text = "\n".join(f"{e.cls_name}: {e.message}\n{''.join(e.stack)}" for e in chain)
        failures[event.step_key] = StepFailure(event.step_key, ours.cls_name, ours.message.strip(), text)
    return failures


def started_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return {r.event_log_entry.dagster_event.step_key for r in records}


def succeeded_steps(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
    return {r.event_log_entry.dagster_event.step_key for r in records}


def materializations(instance: dg.DagsterInstance, asset: str, rc: str = RC) -> list:
    return instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[rc]), limit=10
    ).records


def pipeline_store() -> ObjectStore:
    """The bucket the pipeline writes to, with this test's prefix (from VP_S3_* in os.environ)."""
    return ObjectStore(S3Settings.from_env())


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- k6 processes of this test ----------------------------------------------------------------


def our_k6(script_names: Iterable[str] = ("read.js", "write.js")) -> list[psutil.Process]:
    """k6 processes started by this test process (children only) running one of our scripts."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
            if child.name() == "k6" and any(
                arg.endswith(f"/scripts/{s}") for arg in cmdline for s in script_names
            ):
                found.append(child)
        except psutil.Error:
            continue
    return found


class K6Killer(threading.Thread):
    """Waits until our k6 processes run, lets them work `after_s`, then SIGKILLs them by pid."""

    def __init__(self, after_s: float, scripts: Iterable[str], expect: int, give_up_s: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.after_s, self.scripts, self.expect, self.give_up_s = after_s, tuple(scripts), expect, give_up_s
        self.killed: list[int] = []
        self.killed_at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.give_up_s
        while len(our_k6(self.scripts)) < self.expect:
            if self.stop.wait(0.05) or time.monotonic() > deadline:
                return
        if self.stop.wait(self.after_s):
            return
        for process in our_k6(self.scripts):
            try:
                process.send_signal(signal.SIGKILL)
                self.killed.append(process.pid)
            except psutil.NoSuchProcess:
                pass
        self.killed_at = time.monotonic()


@pytest.fixture
def k6_killer() -> Iterator[Callable[..., K6Killer]]:
    """Start a K6Killer; it is stopped (and any k6 it did not reach is killed) at teardown."""
    started: list[K6Killer] = []

    def start(after_s: float, scripts: Iterable[str] = ("read.js", "write.js"), expect: int = 2) -> K6Killer:
        killer = K6Killer(after_s, scripts, expect)
        killer.start()
        started.append(killer)
        return killer

    yield start
    for killer in started:
        killer.stop.set()
        killer.join(timeout=5)
    for process in our_k6():
        process.kill()


# --- a store of our own -----------------------------------------------------------------------


@dataclass
class PrivateStore:
    """A SeaweedFS nobody else uses: stopped and restarted on the same ports and data."""

    stack: Stack

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env()

    @property
    def endpoint_url(self) -> str:
        return self.env["VP_S3_ENDPOINT_URL"]

    def pid(self) -> int:
        return self.stack.status().running["seaweedfs"].pid

    def kill(self) -> None:
        """SIGKILL the weed process we started (a crash, not a clean stop) and wait until it is gone."""
        process = psutil.Process(self.pid())
        process.kill()
        process.wait(timeout=10)

    def up(self) -> None:
        self.stack.up(progress=lambda _: None)


@pytest.fixture
def private_store(tmp_path: Path) -> Iterator[PrivateStore]:
    stack = Stack(StackLayout(home=tmp_path / "private-stack"), port_base=free_port_base(), with_target=False)
    stack.up(progress=lambda _: None)
    store = PrivateStore(stack)
    try:
        yield store
    finally:
        # weed takes ~15 s to stop on SIGTERM; it holds nothing we need afterwards, so kill it.
        running = stack.status().running.get("seaweedfs")
        if running is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(running.pid).kill()
        stack.down()


# --- a disk we can fill -----------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: writes past that fail with ENOSPC, as on a full disk."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
