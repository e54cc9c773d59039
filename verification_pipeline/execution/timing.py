"""Where a run's time went, from the instance's event log: the measuring phases and the rest.

The rest, the pipeline's overhead, is what a person waits for beyond the load and the fan-out
probe they asked for: process start-up, imports, storage, scans, signing. The same figure is
read for a run of the demo (in-process) and one launched from the UI or a sensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

# Steps that measure the target: a load segment (k6 + ingestion), the fan-out probe, the overload phase.
PHASE_STEPS = ("run_load_segment", "fanout_latencies", "overload_phase")


def is_measuring(step_key: str) -> bool:
    """A step that measures the target (its time is not the pipeline's overhead)."""
    return any(step in step_key for step in PHASE_STEPS)


_RUN_END = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)


@dataclass(frozen=True)
class RunTiming:
    start: float
    """RUN_START (epoch seconds): the run worker has loaded the code and begins the plan."""
    end: float
    """RUN_SUCCESS or RUN_FAILURE."""
    steps: dict[str, tuple[float, float]]
    """Step key -> (STEP_START, STEP_SUCCESS/FAILURE) epoch seconds."""

    @property
    def wall_s(self) -> float:
        return self.end - self.start

    def phase_s(self) -> float:
        """Seconds during which a load segment or the fan-out probe ran (overlaps counted once)."""
        spans = sorted(w for key, w in self.steps.items() if is_measuring(key))
        covered, reach = 0.0, float("-inf")
        for begin, finish in spans:
            begin = max(begin, reach)
            if finish > begin:
                covered += finish - begin
                reach = finish
        return covered

    def overhead_s(self) -> float:
        """Run wall time minus the measuring phases."""
        return self.wall_s - self.phase_s()


def step_windows(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Step key -> (start, end) epoch seconds of each step that finished."""
    starts: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            windows[event.step_key] = (starts.get(event.step_key, entry.timestamp), entry.timestamp)
    return windows


def run_timing(instance: dg.DagsterInstance, run_id: str) -> RunTiming:
    """The timing of a finished run; a run that has not started or ended is a ValueError."""
    start = end = None
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.RUN_START, *_RUN_END}):
        if entry.dagster_event_type == dg.DagsterEventType.RUN_START:
            start = entry.timestamp
        else:
            end = entry.timestamp
    if start is None or end is None:
        raise ValueError(f"run {run_id} has no RUN_START and RUN_SUCCESS/RUN_FAILURE in the event log")
    return RunTiming(start=start, end=end, steps=step_windows(instance, run_id))
