"""How late the probe's own event loop runs its tasks.

A subscriber stamps an event's arrival when its handler runs, not when the bytes reached the
socket; if the loop is busy, that gap is added to every latency. A ticker that asks to wake up
every `interval_s` and records how much later it actually woke measures exactly that gap.

The ticker reads the host's monotonic clock itself rather than `loop.time()`: under uvloop (the
subscriber processes' loop) `loop.time()` is libuv's clock, in whole milliseconds and cached at
the start of each loop iteration, too coarse for lags of a few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator


class LoopLagMonitor:
    """Samples the running loop's scheduling delay, in milliseconds, until stopped."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.samples_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._asked: float | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> list[float]:
        """The samples; a window shorter than one interval still gives one (how late the pending tick is, or 0)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if not self.samples_ms and self._asked is not None:
                self.samples_ms.append(max(0.0, (time.monotonic() - self._asked) * 1000.0))
        return self.samples_ms

    async def _tick(self) -> None:
        while True:
            self._asked = time.monotonic() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.samples_ms.append(max(0.0, (time.monotonic() - self._asked) * 1000.0))


@contextlib.contextmanager
def collector_at_rest() -> Iterator[None]:
    """No garbage collection inside the block: the heap built so far is collected once and frozen.

    A full collection in the middle of a burst stops the loop for milliseconds while arrivals (or
    publishes) wait to be stamped. The probe's windows are bounded (subscribers x events receipts),
    so the collector can rest until the block ends; it is switched back on however the block ends.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
