"""The probe's stamps: one monotonic timeline across its processes, shown as epoch time."""

from __future__ import annotations

import multiprocessing
import time

from verification_pipeline.fanout.clock import as_epoch_ms, as_stamp_ms, stamp_ms


def test_a_stamp_taken_in_another_process_lies_between_the_parents_stamps_before_and_after():
    # the subscriber processes are spawned, as here: their stamps must compare with the publisher's
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        pool.apply(stamp_ms)  # the child is started and has imported the clock
        before = stamp_ms()
        theirs = pool.apply(stamp_ms)
        after = stamp_ms()
    assert before <= theirs <= after


def test_epoch_times_follow_the_wall_clock_and_convert_back():
    stamp = stamp_ms()
    assert abs(as_epoch_ms(stamp) - time.time() * 1000.0) < 50  # the offset taken at import
    assert abs(as_stamp_ms(as_epoch_ms(stamp)) - stamp) < 1e-3  # a microsecond
    later = stamp + 1234.5
    assert (
        abs((as_epoch_ms(later) - as_epoch_ms(stamp)) - 1234.5) < 1e-3
    )  # differences are the monotonic ones
