"""A subscriber process's own work per arrival: keep it, count it, decode it only when it can be done.

No target here: the arrivals are fed to the inbox's callbacks as the wire would call them.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import uvloop

from verification_pipeline.fanout.clock import stamp_ms
from verification_pipeline.fanout.looplag import LoopLagMonitor
from verification_pipeline.fanout.subscribers import SubscriberGroup, _drain, _Inbox, run_loop

EVENTS = ["e1", "e2", "e3"]


def _group(first: int = 10, count: int = 2) -> SubscriberGroup:
    return SubscriberGroup(
        index=0,
        first=first,
        count=count,
        url="http://127.0.0.1:9",
        socketio_path="socket.io",
        tenant="t",
        connect_timeout_s=1.0,
        token="secret",
    )


def _payload(event_id: str, seq: object = 1) -> str:
    return json.dumps({"id": event_id, "seq": seq, "tenantId": "t"})


def test_arrivals_are_kept_raw_and_counted_then_decoded_into_receipts():
    inbox = _Inbox.of(_group(first=10, count=2))
    first, second = inbox.on_event(10), inbox.on_event(11)
    first(1.5, _payload("e1", 7))
    first(2.5, "not json")
    second(3.5, json.dumps(["no", "id"]))
    second(4.5, _payload("e2", True))  # a bool is no sequence number
    assert inbox.arrivals == [2, 2]
    assert inbox.receipts == []  # nothing decoded while arrivals come
    assert inbox.decode(limit=1) == 1
    assert inbox.receipts == [(10, "e1", 7, 1.5)]
    assert inbox.decode() == 3
    assert inbox.receipts == [(10, "e1", 7, 1.5), (11, "e2", None, 4.5)]
    assert inbox.decode() == 0


def test_the_drain_ends_as_soon_as_every_subscriber_has_every_event():
    inbox = _Inbox.of(_group())
    for subscriber in (10, 11):
        for event_id in EVENTS:
            inbox.on_event(subscriber)(stamp_ms(), _payload(event_id))
    started = time.monotonic()
    asyncio.run(_drain(inbox, set(EVENTS), deadline=stamp_ms() + 5_000))
    assert time.monotonic() - started < 2.0
    assert len(inbox.receipts) == 6


def test_a_foreign_event_filling_a_count_does_not_end_the_drain_early():
    inbox = _Inbox.of(_group())
    for event_id in EVENTS:
        inbox.on_event(10)(stamp_ms(), _payload(event_id))
    # subscriber 11 has three arrivals, one of them not ours: it still waits for e3
    for event_id in ("e1", "e2", "someone-else"):
        inbox.on_event(11)(stamp_ms(), _payload(event_id))

    async def late_arrival() -> None:
        await asyncio.sleep(0.2)
        inbox.on_event(11)(stamp_ms(), _payload("e3"))

    async def scenario() -> float:
        started = time.monotonic()
        arriving = asyncio.create_task(late_arrival())
        await _drain(inbox, set(EVENTS), deadline=stamp_ms() + 5_000)
        await arriving
        return time.monotonic() - started

    assert 0.2 <= asyncio.run(scenario()) < 2.0
    assert sorted(event for subscriber, event, _, _ in inbox.receipts if subscriber == 11) == [
        "e1",
        "e2",
        "e3",
        "someone-else",
    ]


def test_subscriber_processes_run_uvloop_where_it_is_installed():
    # uvicorn[standard], a dependency, installs uvloop on Linux: the workers' loops are its.
    async def which_loop() -> type:
        return type(asyncio.get_running_loop())

    assert run_loop(which_loop()) is uvloop.Loop


@pytest.mark.parametrize("run", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_loop_lag_is_seen_on_either_loop(run):
    """A loop blocked for 60 ms shows a lag sample of about that, on asyncio's loop and on uvloop's."""

    async def blocked() -> list[float]:
        monitor = LoopLagMonitor(interval_s=0.005)
        monitor.start()
        await asyncio.sleep(0.03)
        time.sleep(0.06)  # noqa: ASYNC251 - on purpose: the loop cannot run the ticker
        await asyncio.sleep(0.03)
        return await monitor.stop()

    samples = run(blocked())
    assert max(samples) >= 40.0


def test_a_window_shorter_than_one_tick_still_reports_one_lag_sample():
    async def short() -> list[float]:
        monitor = LoopLagMonitor(interval_s=1.0)
        monitor.start()
        await asyncio.sleep(0.01)
        return await monitor.stop()

    samples = asyncio.run(short())
    assert len(samples) == 1 and samples[0] == 0.0
