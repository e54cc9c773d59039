"""`in_background`: the worker is stopped and joined when the block ends, and what it raised is
raised in the caller's thread (an error of the block itself wins)."""

from __future__ import annotations

import threading

import pytest

from verification_pipeline.background import in_background


def test_the_worker_is_stopped_and_joined_when_the_block_ends():
    seen: list[bool] = []

    def work(stop: threading.Event) -> None:
        stop.wait(5)
        seen.append(stop.is_set())

    with in_background(work, "t"):
        pass
    assert seen == [True]


def test_what_the_worker_raised_is_raised_in_the_callers_thread():
    def work(stop: threading.Event) -> None:
        raise ValueError("probe broke")

    with pytest.raises(ValueError, match="probe broke"), in_background(work, "t"):
        pass


def test_an_error_of_the_block_itself_is_the_one_raised():
    def work(stop: threading.Event) -> None:
        raise ValueError("worker")

    with pytest.raises(KeyError), in_background(work, "t"):
        raise KeyError("block")
