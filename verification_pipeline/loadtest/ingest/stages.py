"""Where an ingestion's time goes, per stage (for the benchmark)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimes:
    """Seconds of one ingestion per stage, summed over the threads that worked on it (a stage
    that runs on two threads at once counts twice; polars' own pool works inside a stage).

    For the benchmark, to show where the time goes: `read` the file, `split` chunks into lines
    (and check each is a k6 line), `filter` the lines of the metrics we read, `parse` their
    fields and type them, `requests` join the points of a request and sort.
    """

    STAGES = ("read", "split", "filter", "parse", "requests")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                self.seconds[name] += spent
