"""One timeline for every process of a probe run: the host's monotonic clock, shown as epoch time.

A latency is an arrival stamped in a subscriber process minus a publish stamped in the parent,
so both stamps must come from one clock. The wall clock is one clock for the whole host, but
NTP or an operator may step it during a run, and a step between a publish and its arrivals
would move every latency by the step. `CLOCK_MONOTONIC` is also one clock for the whole host
(on Linux every process reads the same counter since boot), is slewed by NTP exactly as the
wall clock is, and is never stepped. So every process stamps `stamp_ms()` (monotonic), and
only the parent turns stamps into epoch milliseconds, with one offset taken once per process
(`as_epoch_ms`): the rows keep readable dates, and the differences stay the monotonic ones.
"""

from __future__ import annotations

import time

# wall minus monotonic, taken once: the same for every stamp this process converts
_EPOCH_OFFSET_MS = time.time() * 1000.0 - time.monotonic() * 1000.0


def stamp_ms() -> float:
    """Now, in milliseconds on the host's monotonic clock (comparable across this host's processes)."""
    return time.monotonic() * 1000.0


def as_epoch_ms(stamp: float) -> float:
    """A `stamp_ms()` value as epoch milliseconds, with this process's one offset."""
    return stamp + _EPOCH_OFFSET_MS


def as_stamp_ms(epoch_ms: float) -> float:
    """The inverse of `as_epoch_ms`: an epoch time from `as_epoch_ms` back on the monotonic clock."""
    return epoch_ms - _EPOCH_OFFSET_MS
