"""Where a run's steps execute when the daemon or the UI launches it (README: "Which executor runs the steps").

Dagster's default executor starts a fresh Python for every step (`spawn`), and each one imports
Dagster and this project again: 5-7 s a step on 2 cores, 16 steps a run. Here the multiprocess
executor forks each step from a `forkserver` that has imported the code location once
(`execution/step_server.py`), so a step starts with all of that in memory. Steps still run as
separate processes: the load segments of a split test run at the same time, and one step's
crash or memory stays its own. The fork server is a clean process (no gRPC channel, no open
storage, no step run in it); polars and pyarrow start threads when imported, and the forked
steps' use of both is tested (tests/pipeline/test_executor.py).

The launchpad can still choose `in_process`, or `multiprocess` with `start_method: spawn`; the
config only changes what an empty `multiprocess` section means. `execute_in_process` (the demo)
ignores executors, and the Kubernetes deployment sets `k8s_job_executor` per run (infra/).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

# What the fork server imports before it forks steps: the whole code location and what Dagster
# loads in each step before it runs, so a step finds all of it already in memory.
PRELOADED_MODULES = ["verification_pipeline.execution.step_server"]
FORKSERVER = {"forkserver": {"preload_modules": PRELOADED_MODULES}}


def _forkserver_by_default(config: dict[str, Any]) -> dict[str, Any]:
    """The launch's executor config, with `forkserver` where it names no start method."""
    multiprocess = config.get("multiprocess")
    if multiprocess is None or multiprocess.get("start_method"):
        return config
    return {"multiprocess": {**multiprocess, "start_method": FORKSERVER}}


step_executor = dg.multi_or_in_process_executor.configured(
    _forkserver_by_default,
    config_schema=dg.multi_or_in_process_executor.config_schema.as_field(),
)
