"""The Dagster UI as `make dev` runs it (dagster-webserver + dagster-daemon), on a free loopback port.

`launch_dagster_ui(base, env)` starts both on `workspace.yaml` from the checkout with a private
instance: a DAGSTER_HOME under `base` holding a link to the repo's `dagster.yaml` (so the
committed instance config is what runs: queued run coordinator, pools, run retries), a VP_HOME
under `base`, and `env` (the S3 variables of a stack, inputs) on top of a scrubbed environment.
The daemon is there because the queued run coordinator only dequeues runs in the daemon. Each
process leads its own process group, so stopping the group also stops the code servers and run
workers it spawned.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION_NAME = "verification_pipeline"
REPOSITORY_NAME = "__repository__"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0

# Inherited variables that would point the processes at someone else's instance or repository.
_SCRUBBED_PREFIXES = ("DAGSTER_", "VP_")

_LOCATION_STATUS = """
query LocationStatus {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


# What the UI's launchpad and Materialize button send, and what a test reads back about a run.
JOB_NAME = "verify_release_candidate"
PARTITIONS_DEF_NAME = "release_candidates"
RUN_TIMEOUT_S = 300.0
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

ADD_PARTITION = """
mutation AddPartition($partitionsDefName: String!, $partitionKey: String!, $repositorySelector: RepositorySelector!) {
  addDynamicPartition(partitionsDefName: $partitionsDefName, partitionKey: $partitionKey,
                      repositorySelector: $repositorySelector) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionsDefName partitionKey }
    ... on DuplicateDynamicPartitionError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

# The UI's own mutation (ui-core LaunchPipelineExecution), with the errors it can answer.
LAUNCH = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status tags { key value } } }
    ... on RunConfigValidationInvalid { errors { message path } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

RUN_EVENTS = """
query RunEvents($runId: ID!, $afterCursor: String) {
  runOrError(runId: $runId) {
    ... on Run {
      eventConnection(afterCursor: $afterCursor, limit: 1000) {
        cursor
        hasMore
        events {
          __typename
          ... on ExecutionStepFailureEvent { stepKey error { className message cause { message } } }
        }
      }
    }
  }
}
"""


class GraphQLError(AssertionError):
    """The webserver answered a GraphQL request with `errors` (a query that does not fit the schema)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DagsterUI:
    """A running webserver + daemon and where to look when something goes wrong."""

    url: str
    dagster_home: Path
    vp_home: Path
    logs: dict[str, Path]

    @property
    def repository_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
        """POST to /graphql as the UI does; the `data` of the answer."""
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The UI's instance, opened here to read runs and event logs directly.

        dagster.yaml names the storage directory by $DAGSTER_HOME, read when the instance is
        created: it is set for that moment only, so this process's own instance is not moved.
        """
        previous = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        try:
            instance = dg.DagsterInstance.get()
        finally:
            if previous is None:
                del os.environ["DAGSTER_HOME"]
            else:
                os.environ["DAGSTER_HOME"] = previous
        with instance:
            yield instance

    def log_tail(self, lines: int = 60) -> str:
        """The end of each process's output, for assertion messages."""
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            parts.append(f"--- {name} ({path}) ---\n" + "\n".join(text))
        return "\n".join(parts)


def _environment(extra: dict[str, str], dagster_home: Path, vp_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(extra)
    env.update({"DAGSTER_HOME": str(dagster_home), "VP_HOME": str(vp_home), "PYTHONUNBUFFERED": "1"})
    return env


def _start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> tuple[subprocess.Popen, Path]:
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process, log


def stop_process_groups(processes: list[subprocess.Popen], first: signal.Signals = signal.SIGINT) -> None:
    """`first` to each process group we created (SIGINT: Ctrl-C, as under `make dev`), all at once so
    the shutdowns overlap; SIGKILL to whatever is left after the grace period, run workers included."""
    for process in processes:
        _signal_group(process, first)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _wait_until_loaded(ui: DagsterUI, processes: dict[str, subprocess.Popen]) -> None:
    """Until /server_info answers and the code location reports LOADED (or a load error)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n{ui.log_tail()}")
        try:
            httpx.get(f"{ui.url}/server_info", timeout=5.0).raise_for_status()
            data = ui.graphql(_LOCATION_STATUS, timeout=10.0)["workspaceOrError"]
            entries = {e["name"]: e for e in data.get("locationEntries", [])}
            entry = entries.get(LOCATION_NAME)
            if entry and entry["loadStatus"] == "LOADED":
                error = entry["locationOrLoadError"]
                if error["__typename"] == "PythonError":
                    raise RuntimeError(f"code location failed to load: {error['message']}\n{ui.log_tail()}")
                return
            last = f"location entries: {sorted(entries)}"
        except (httpx.HTTPError, GraphQLError) as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise RuntimeError(f"dagster-webserver not ready after {START_TIMEOUT_S:.0f} s ({last})\n{ui.log_tail()}")


@contextlib.contextmanager
def launch_dagster_ui(base: Path, env: dict[str, str]) -> Iterator[DagsterUI]:
    """Webserver + daemon on a fresh instance under `base`, with `env` (VP_S3_* and the like) added."""
    dagster_home, vp_home = base / "dagster_home", base / "vp_home"
    dagster_home.mkdir()
    vp_home.mkdir()
    (dagster_home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    port = free_port()
    workspace = str(ROOT / "workspace.yaml")
    argv = {
        "webserver": [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }
    process_env = _environment(env, dagster_home, vp_home)
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    try:
        ui = DagsterUI(url=f"http://127.0.0.1:{port}", dagster_home=dagster_home, vp_home=vp_home, logs=logs)
        # One after the other: on a fresh instance each would create the SQLite tables, and the
        # loser of that race exits ("table job_ticks already exists").
        for name, command in argv.items():
            processes[name], logs[name] = _start(name, command, process_env, base)
            _wait_until_loaded(ui, processes)
        yield ui
    finally:
        stop_process_groups(list(processes.values()))


def step_failures(ui: DagsterUI, run_id: str) -> list[dict]:
    """Each failed step of the run: its key and the error (class name, message, cause)."""
    failures, cursor, more = [], None, True
    while more:
        page = ui.graphql(RUN_EVENTS, {"runId": run_id, "afterCursor": cursor})["runOrError"][
            "eventConnection"
        ]
        failures += [e for e in page["events"] if e["__typename"] == "ExecutionStepFailureEvent"]
        cursor, more = page["cursor"], page["hasMore"]
    return failures


def describe_failures(failures: list[dict]) -> str:
    return "\n".join(
        f"{f['stepKey']}: {f['error']['className']}: {f['error']['message'].strip()} "
        f"{(f['error'].get('cause') or {}).get('message', '')}".strip()
        for f in failures
    )


def add_partition(ui: DagsterUI, rc: str) -> None:
    """Add the RC to the dynamic partitions, as the UI's "Add partition" does; one already there is fine."""
    added = ui.graphql(
        ADD_PARTITION,
        {
            "partitionsDefName": PARTITIONS_DEF_NAME,
            "partitionKey": rc,
            "repositorySelector": ui.repository_selector,
        },
    )["addDynamicPartition"]
    assert added["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"), added


def launch_and_wait(
    ui: DagsterUI,
    rc: str,
    run_config: dict,
    timeout_s: float = RUN_TIMEOUT_S,
    asset_selection: list[str] | None = None,
) -> tuple[str, str]:
    """Add the partition, launch the job for it, and wait until the run ends: (run id, status).

    `asset_selection` (asset keys) launches only those assets, as "Materialize selected" does.
    """
    add_partition(ui, rc)
    selector = {**ui.repository_selector, "jobName": JOB_NAME}
    if asset_selection is not None:
        selector["assetSelection"] = [{"path": dg.AssetKey.from_user_string(a).path} for a in asset_selection]
    launched = ui.graphql(
        LAUNCH,
        {
            "executionParams": {
                "selector": selector,
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": rc}]},
                "runConfigData": run_config,
            }
        },
    )["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run = launched["run"]
    assert {"key": "dagster/partition", "value": rc} in run["tags"]

    deadline = time.monotonic() + timeout_s
    status = run["status"]
    while status not in TERMINAL and time.monotonic() < deadline:
        time.sleep(1.0)
        status = ui.graphql(RUN_STATUS, {"runId": run["runId"]})["runOrError"]["status"]
    assert status in TERMINAL, f"run {run['runId']} is {status} after {timeout_s:.0f} s\n{ui.log_tail()}"
    return run["runId"], status
