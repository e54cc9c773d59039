"""The executor a run gets when the UI or a sensor launches it (verification_pipeline/defs/executor.py)."""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys

import dagster as dg
import polars as pl
import pytest

from verification_pipeline.defs.executor import PRELOADED_MODULES, step_executor

FORKSERVER = {"forkserver": {"preload_modules": ["verification_pipeline.execution.step_server"]}}
# A hang here is a deadlock in the forked step, not slowness: generous for a busy machine.
CHILD_TIMEOUT_S = 180.0


@dg.op
def one() -> int:
    return 1


@dg.job(executor_def=step_executor)
def tiny_job() -> None:
    one()


def _executor_config(run_config: dict) -> dict:
    return dg.validate_run_config(tiny_job, run_config)["execution"]["multi_or_in_process_executor"]


def test_every_job_of_the_code_location_runs_on_the_step_executor():
    from verification_pipeline.definitions import defs as load_defs

    defs = load_defs()
    # the sensor's and schedule's job, and the implicit job behind the UI's Materialize button
    assert defs.resolve_job_def("verify_release_candidate").executor_def is step_executor
    assert defs.resolve_implicit_global_asset_job_def().executor_def is step_executor


def test_a_launch_without_executor_config_forks_steps_from_a_server_that_preloaded_the_project():
    assert _executor_config({})["multiprocess"]["start_method"] == FORKSERVER
    limited = _executor_config({"execution": {"config": {"multiprocess": {"max_concurrent": 3}}}})
    assert limited["multiprocess"]["max_concurrent"] == 3
    assert limited["multiprocess"]["start_method"] == FORKSERVER


@pytest.mark.parametrize(
    "chosen",
    [
        {"multiprocess": {"start_method": {"spawn": {}}}},
        {"multiprocess": {"start_method": {"forkserver": {"preload_modules": ["dagster"]}}}},
        {"in_process": {}},
    ],
    ids=["spawn", "forkserver-other-preload", "in_process"],
)
def test_an_executor_chosen_in_the_launchpad_is_kept(chosen: dict):
    resolved = _executor_config({"execution": {"config": chosen}})
    mode = next(iter(chosen))
    assert set(resolved) == {mode}
    if mode == "multiprocess":
        assert resolved[mode]["start_method"] == chosen[mode]["start_method"]


def test_the_step_server_module_imports_in_a_fresh_interpreter():
    # multiprocessing ignores an ImportError in a fork server's preload: steps would silently
    # import everything again. Its imports name Dagster internals, so an upgrade must show here.
    done = subprocess.run(
        [sys.executable, "-c", f"import {PRELOADED_MODULES[0]}"],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _step_like_work(answer: multiprocessing.Queue) -> None:
    """What steps do in a forked process: polars on its thread pool, Parquet through pyarrow."""
    frame = pl.DataFrame(
        {"request": range(300_000), "op": [("read", "write")[i % 2] for i in range(300_000)]}
    )
    counts = frame.group_by("op").agg(pl.len()).sort("op")
    buffer = io.BytesIO()
    frame.sort("request", descending=True).write_parquet(buffer)
    back = pl.read_parquet(io.BytesIO(buffer.getvalue()), use_pyarrow=True)
    answer.put((counts.rows(), back.height, back["request"][0]))


def test_steps_forked_from_the_preloaded_server_can_use_polars_and_pyarrow():
    # polars and pyarrow start threads when imported, and the server has imported them: a fork
    # that inherited a broken thread pool would hang here instead of answering.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED_MODULES)
    answer = context.Queue()
    results = []
    for _ in range(2):  # the second fork comes from the same, already used, server
        step = context.Process(target=_step_like_work, args=(answer,))
        step.start()
        step.join(CHILD_TIMEOUT_S)
        if step.exitcode is None:
            step.kill()
        assert step.exitcode == 0, f"forked step ended with {step.exitcode} (None: it hung)"
        results.append(answer.get(timeout=10))
    assert results == [([("read", 150_000), ("write", 150_000)], 300_000, 299_999)] * 2


def test_the_fanout_probe_never_runs_beside_the_load():
    """Both drive the target: under a multiprocess or k8s executor they would overlap and each
    measure the other's traffic (a forked UI run failed the fan-out SLO the in-process run passed).
    An ordering edge puts the probe after the load in every executor; the pool keeps another
    run's load away while it runs."""
    from verification_pipeline.definitions import build_definitions

    graph = build_definitions({}).resolve_asset_graph()
    fanout = graph.get(dg.AssetKey("fanout_latencies"))
    assert {dg.AssetKey("read_load_samples"), dg.AssetKey("write_load_samples")} <= fanout.parent_keys
    assert fanout.pools == {"load_target"}
