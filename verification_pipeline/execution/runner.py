"""Run the verification job for one RC in this process (the demo, tests), on a given instance.

`RunWatcher` follows such a run from another thread through the instance's event log: every
event goes to a log file (Dagster's per-event DEBUG lines stay off the screen) and each finished
step is handed to a callback with its duration and its key figure.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self, TextIO

import dagster as dg

from verification_pipeline.defs.job import JOB
from verification_pipeline.defs.partitions import RELEASE_CANDIDATES
from verification_pipeline.execution.timing import is_measuring, step_windows
from verification_pipeline.records import RunSummary


@dataclass
class Materialized:
    asset: str
    uri: str | None
    sha256: str | None
    rows: int | None


@dataclass
class VerificationRun:
    run_id: str
    success: bool
    materialized: list[Materialized]
    values: RunSummary
    """The records of the assets a person reads first (`SUMMARY_ASSETS`)."""
    step_windows: dict[str, tuple[float, float]]
    """Step key -> (start, end) epoch seconds, from the instance's event log."""

    def load_to_bundle_s(self) -> float | None:
        """Seconds from the end of the last measurement (a load segment or the fan-out probe, which
        runs after the load) to the verified bundle: the pipeline's own overhead after measuring."""
        load_end = max(
            (end for step, (_, end) in self.step_windows.items() if is_measuring(step)), default=None
        )
        bundle = self.step_windows.get("evidence_bundle")
        return bundle[1] - load_end if load_end is not None and bundle else None


SUMMARY_ASSETS = tuple(RunSummary.model_fields)


def verify_in_process(
    defs: dg.Definitions,
    rc: str,
    instance: dg.DagsterInstance,
    job_name: str = JOB,
    run_config: dict | None = None,
    raise_on_error: bool = True,
    run_id: str | None = None,
) -> VerificationRun:
    """`run_id` chosen by the caller lets a `RunWatcher` follow the run while it executes."""
    instance.add_dynamic_partitions(RELEASE_CANDIDATES, [rc])
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        partition_key=rc,
        instance=instance,
        run_config=run_config or {},
        raise_on_error=raise_on_error,
        run_id=run_id,
    )
    materialized = []
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        md = mat.metadata
        row_count = md.get("dagster/row_count")  # the IO manager records it as an int
        materialized.append(
            Materialized(
                asset=mat.asset_key.to_user_string(),
                uri=str(md["uri"].value) if "uri" in md else None,
                sha256=str(md["sha256"].value) if "sha256" in md else None,
                rows=row_count.value if isinstance(row_count, dg.IntMetadataValue) else None,
            )
        )
    done = {m.asset for m in materialized}
    values = RunSummary(**{name: result.asset_value(name) for name in SUMMARY_ASSETS if name in done})
    return VerificationRun(
        run_id=result.run_id,
        success=result.success,
        materialized=materialized,
        values=values,
        step_windows=step_windows(instance, result.run_id),
    )


# Metadata that says most about a step, in this order; the first one present is its key figure.
KEY_FIGURES = (
    ("verdict", "{}"),
    ("dagster/row_count", "{:,} rows"),
    ("requests", "{:,} requests"),
    ("delivered", "{:,} delivered"),
    ("components", "{} components"),
    ("files", "{} files"),
    ("slos", "{} SLOs"),
    ("commit", "commit {}"),
    ("uri", "{}"),
)


@dataclass(frozen=True)
class StepDone:
    """A finished step as the demo shows it: name, seconds, the figure that says most about it."""

    step: str
    seconds: float
    success: bool
    figure: str


@dataclass
class _StepState:
    started: float | None = None
    metadata: dict[str, object] = field(default_factory=dict)
    last_message: str = ""


class RunWatcher:
    """Follows run `run_id` in `instance` from a thread: events to `log`, finished steps to `on_step`.

    `on_tick` is called after each look at the event log (about every `interval_s`) with the
    steps running at that moment, so a live line can be drawn.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        log: TextIO,
        on_step: Callable[[StepDone], None],
        on_tick: Callable[[dict[str, float]], None] | None = None,
        interval_s: float = 0.5,
    ) -> None:
        self._instance, self._run_id, self._log = instance, run_id, log
        self._on_step, self._on_tick, self._interval_s = on_step, on_tick, interval_s
        self._cursor: str | None = None
        self._steps: dict[str, _StepState] = {}
        self._running: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="run-watcher", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()  # whatever was written after the last look

    def _follow(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._poll()
            if self._on_tick is not None:
                self._on_tick(dict(self._running))

    def _poll(self) -> None:
        while True:
            connection = self._instance.get_records_for_run(self._run_id, cursor=self._cursor, limit=500)
            for record in connection.records:
                self._handle(record.event_log_entry)
            self._cursor = connection.cursor
            if not connection.has_more:
                break
        self._log.flush()

    def _handle(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        stamp = time.strftime("%H:%M:%S", time.localtime(entry.timestamp))
        kind = event.event_type_value if event else "LOG"
        self._log.write(f"{stamp} {kind:<24} {entry.step_key or '-':<40} {entry.user_message or ''}\n")
        if entry.step_key is None:
            return
        state = self._steps.setdefault(entry.step_key, _StepState())
        if event is None:
            state.last_message = entry.user_message or ""
        elif event.event_type == dg.DagsterEventType.STEP_START:
            state.started = entry.timestamp
            self._running[entry.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.step_materialization_data.materialization.metadata
            state.metadata.update({key: value.value for key, value in metadata.items()})
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            self._running.pop(entry.step_key, None)
            success = event.event_type == dg.DagsterEventType.STEP_SUCCESS
            if success:
                figure = _key_figure(state)
            else:
                error = event.step_failure_data.error
                while (
                    error is not None and error.cause is not None
                ):  # Dagster's wrapper -> the step's own error
                    error = error.cause
                figure = (error.message.strip().splitlines() or ["failed"])[0] if error else "failed"
                figure = re.sub(r"^(?:\w+\.)+(?=\w+: )", "", figure)  # dagster._core.errors.X: -> X:
            seconds = entry.timestamp - (state.started or entry.timestamp)
            self._on_step(StepDone(entry.step_key, seconds, success, figure))


def _key_figure(state: _StepState) -> str:
    for key, form in KEY_FIGURES:
        value = state.metadata.get(key)
        if value is None or value == "":
            continue
        try:
            return form.format(len(value) if isinstance(value, list | dict) else value)
        except (ValueError, TypeError):
            return str(value)
    return state.last_message
