"""The pipeline's overhead on the demo's graph: in-process (the demo) vs launched from the UI.

Overhead = run wall time (RUN_START .. RUN_SUCCESS/RUN_FAILURE in the instance's event log)
minus the time a load segment or the fan-out probe was running: what a person waits for beyond
the measurement they asked for. Three runs of `verify_release_candidate` for one RC, on one
embedded stack (SeaweedFS + the reference target, loopback):

1. in-process, as `verification-pipeline demo` runs it (`execute_in_process`);
2. through the webserver's GraphQL API exactly as the UI's launchpad launches it
   (`launchPipelineExecution`, partition tag, no executor config), on `dagster-webserver` +
   `dagster-daemon` with the committed dagster.yaml (queued run coordinator: the daemon
   dequeues, the default run launcher starts a run worker), once with Dagster's default
   start method (`spawn`: a fresh Python per step, what the code location used before) and
   once with the code location's default executor (`forkserver` preloaded with the project).

    uv run python benchmarks/ui_run_overhead.py [--duration 20s]

The UI runs also report the wait before RUN_START (daemon dequeue + run worker start-up),
which the overhead leaves out by its definition. A run whose RC is not PASS ends in failure by
design (the blocking `promotable` check); its overhead is measured all the same.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The test suite's launcher for webserver + daemon (tests/plugins/webserver.py): one way to start them.
sys.path.insert(0, str(ROOT))

import dagster as dg

from tests.plugins.stack import free_port_base
from tests.plugins.webserver import launch_and_wait, launch_dagster_ui
from verification_pipeline.execution.timing import RunTiming, run_timing
from verification_pipeline.stack.control import Stack, StackLayout

RC = "v24.1.0-rc1"
RUN_TIMEOUT_S = 900.0
UI_CONTENDERS = (
    (
        "UI launch, multiprocess `spawn` (Dagster's default; before)",
        {"execution": {"config": {"multiprocess": {"start_method": {"spawn": {}}}}}},
    ),
    ("UI launch, code location default: multiprocess `forkserver`, project preloaded (after)", {}),
)


def _load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _in_process(env: dict[str, str], work: Path) -> tuple[RunTiming, str]:
    """The demo's way: the job in this process, on an instance of its own."""
    home = work / "in-process-dagster"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    os.environ.update({**env, "DAGSTER_HOME": str(home)})
    from verification_pipeline.definitions import build_definitions
    from verification_pipeline.execution.runner import verify_in_process

    with dg.DagsterInstance.get() as instance:
        run = verify_in_process(build_definitions(os.environ), RC, instance, raise_on_error=False)
        return run_timing(instance, run.run_id), "success" if run.success else "failure"


def _queued_s(instance: dg.DagsterInstance, run_id: str, timing: RunTiming) -> float:
    record = instance.get_run_record_by_id(run_id)
    assert record is not None
    return timing.start - record.create_timestamp.timestamp()


def _print_timeline(timing: RunTiming) -> None:
    """Each step's start and length, from RUN_START: where the overhead sits."""
    for key, (begin, finish) in sorted(timing.steps.items(), key=lambda item: item[1]):
        print(f"  {begin - timing.start:6.1f} s  {finish - begin:5.1f} s  {key}")
    print(f"  {timing.wall_s:6.1f} s  run end")


def _print_failures(instance: dg.DagsterInstance, run_id: str) -> None:
    """Why a run failed, from its event log (the benchmark's folder is removed at the end)."""
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not (event.is_step_failure or event.is_run_failure or event.is_failure):
            continue
        data = event.event_specific_data
        error = getattr(data, "error", None)
        message = error.message.strip() if error is not None else (record.message or "")
        print(
            f"  {event.event_type_value} {event.step_key or ''}: {message.splitlines()[0] if message else ''}"
        )
    for check in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        data = check.dagster_event.event_specific_data if check.dagster_event else None
        if data is not None and not data.passed:
            print(f"  check failed: {data.check_name} on {data.asset_key.to_user_string()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", default="20s", help="k6 duration per load script (default 20s, the demo's)"
    )
    parser.add_argument("--timeline", action="store_true", help="print each UI run's steps as they ran")
    parser.add_argument(
        "--after-only", action="store_true", help="leave out the `spawn` run (the slow 'before' figure)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ui_run_overhead_"))
    stack = Stack(StackLayout(home=work / "stack"), port_base=free_port_base())
    rows: list[tuple[str, str, RunTiming, float | None]] = []
    try:
        stack.up(progress=lambda line: print(line, flush=True))
        env = {**stack.env(), "VP_LOAD_DURATION": args.duration}
        print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {_load_average()}", flush=True)

        timing, outcome = _in_process(env, work)
        rows.append(("in-process (`verification-pipeline demo`'s way)", outcome, timing, None))
        print(f"in-process: overhead {timing.overhead_s():.1f} s", flush=True)

        (work / "ui").mkdir()
        with launch_dagster_ui(work / "ui", env) as ui:
            for label, run_config in UI_CONTENDERS[1:] if args.after_only else UI_CONTENDERS:
                run_id, status = launch_and_wait(ui, RC, run_config, timeout_s=RUN_TIMEOUT_S)
                with ui.instance() as instance:
                    timing = run_timing(instance, run_id)
                    queued = _queued_s(instance, run_id, timing)
                    if status.lower() != "success":
                        _print_failures(instance, run_id)
                    if args.timeline:
                        _print_timeline(timing)
                rows.append((label, status.lower(), timing, queued))
                print(f"{label}: {status}, overhead {timing.overhead_s():.1f} s", flush=True)
        finished = _load_average()
    finally:
        stack.down()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"load per script {args.duration}; {os.cpu_count()} CPUs; at the end: {finished}")
    print()
    print("| run | outcome | run wall s | load + fan-out s | overhead s | steps | launch -> RUN_START s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for label, status, timing, queued in rows:
        print(
            f"| {label} | {status} | {timing.wall_s:.1f} | {timing.phase_s():.1f} | "
            f"**{timing.overhead_s():.1f}** | {len(timing.steps)} | "
            f"{'' if queued is None else f'{queued:.1f}'} |"
        )
    after = rows[-1][2].overhead_s()
    print()
    print(f"UI-launched overhead, after: {after:.1f} s (goal < 20 s)")
    if not args.after_only:
        print(f"before: {rows[1][2].overhead_s():.1f} s")
    print(f"after / in-process overhead: {after / rows[0][2].overhead_s():.1f}x")


if __name__ == "__main__":
    main()
