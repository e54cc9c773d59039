"""A group of Socket.IO subscribers on one event loop, run in a process of its own.

One event loop can only stamp so many arrivals per millisecond; past that it adds its own
queueing delay to every latency. The probe therefore splits its subscribers into groups, one
process and loop each, and this module is what runs in each of those processes. It talks to
the parent over a `multiprocessing` connection, with plain picklable messages:

    group  -> parent  ("ready", connected)  |  ("error", cause)
    parent -> group   ("drain", event_ids, deadline_ms)  |  ("abort",)
    group  -> parent  ("result", receipts, loop_lag_ms, disconnects)

Receipts are `(subscriber, event_id, seq, received_at_ms)` tuples. Every time here (the stamps,
the deadline) is on the host's monotonic clock (`clock.stamp_ms`), which every process of this
host reads alike; the parent turns the stamps into epoch times with one offset. Causes are sentences for a
person with the token removed, because they end up in error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from verification_pipeline.fanout.clock import stamp_ms
from verification_pipeline.fanout.looplag import LoopLagMonitor
from verification_pipeline.fanout.redact import redact_token
from verification_pipeline.fanout.wire import NotAWebsocket, Subscription, WireRefused, websocket_url

log = logging.getLogger(__name__)

# Connecting hundreds of websockets at once makes the target's accept queue, not the
# fan-out, the thing being measured; a bounded number in flight keeps the start orderly.
CONNECTS_IN_FLIGHT = 20
DRAIN_POLL_S = 0.02
EVENT = "coherenceEvents"

Receipt = tuple[int, str, int | None, float]


@dataclass(frozen=True)
class SubscriberGroup:
    """What one process needs to hold subscribers `first .. first + count - 1`."""

    index: int
    first: int
    count: int
    url: str
    socketio_path: str
    tenant: str
    connect_timeout_s: float
    token: str = field(repr=False)


@dataclass
class _Inbox:
    """What the group's subscribers saw: every arrival, and how many connections the target closed."""

    receipts: list[Receipt] = field(default_factory=list)
    disconnects: int = 0


class SubscribeFailed(Exception):
    """A subscriber could not connect or join the tenant's room; the message is the cause."""


def run_group(group: SubscriberGroup, parent: Connection) -> None:
    """Process entry point: hold the group's subscribers until the parent says drain or abort."""
    with contextlib.suppress(BrokenPipeError, EOFError):  # the parent went away: nobody to report to
        asyncio.run(_hold(group, parent))


async def _hold(group: SubscriberGroup, parent: Connection) -> None:
    monitor = LoopLagMonitor()
    monitor.start()
    inbox = _Inbox()
    subscriptions: list[Subscription] = []
    readers: list[asyncio.Task[None]] = []
    try:
        try:
            await _connect_all(group, subscriptions, readers, inbox)
        except SubscribeFailed as exc:
            parent.send(("error", redact_token(str(exc), group.token)))
            return
        except Exception as exc:  # noqa: BLE001 - the parent turns this into a TargetError
            parent.send(
                (
                    "error",
                    redact_token(f"subscriber process failed: {type(exc).__name__}: {exc}", group.token),
                )
            )
            return
        # The heap is built; a full collection in the middle of the burst would stop this loop for
        # milliseconds while arrivals wait to be stamped. The run is bounded (subscribers x events
        # receipts), so the collector can rest until the receipts are handed over.
        gc.collect()
        gc.freeze()
        gc.disable()
        parent.send(("ready", len(subscriptions)))
        order = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        if order[0] != "drain":
            return
        _, event_ids, deadline = order
        await _drain(group, inbox.receipts, set(event_ids), deadline)
        lag = await monitor.stop()
        parent.send(("result", inbox.receipts, lag, inbox.disconnects))
    finally:
        gc.enable()
        await monitor.stop()
        await asyncio.gather(
            *(subscription.close() for subscription in subscriptions), return_exceptions=True
        )
        await asyncio.gather(*readers, return_exceptions=True)


async def _connect_all(
    group: SubscriberGroup,
    subscriptions: list[Subscription],
    readers: list[asyncio.Task[None]],
    inbox: _Inbox,
) -> None:
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)
    url = websocket_url(group.url, group.socketio_path)

    async def connect_one(subscriber: int) -> None:
        async with gate:
            subscription = await subscribe_one(group, url)
        subscriptions.append(subscription)
        readers.append(asyncio.get_running_loop().create_task(_read(subscription, subscriber, inbox)))

    loop = asyncio.get_running_loop()
    connecting = [loop.create_task(connect_one(group.first + offset)) for offset in range(group.count)]
    try:
        await asyncio.gather(*connecting)
    except BaseException:
        # the first failure is the answer: the others would only wait out their own timeouts
        for task in connecting:
            task.cancel()
        await asyncio.gather(*connecting, return_exceptions=True)
        raise


async def subscribe_one(group: SubscriberGroup, url: str) -> Subscription:
    """One subscriber of `group`, connected and subscribed; SubscribeFailed says why not, for a person."""
    try:
        subscription, ack = await Subscription.open(
            url,
            auth={"token": group.token},
            subscribe=("subscribe", {"tenantId": group.tenant}),
            event_name=EVENT,
            timeout_s=group.connect_timeout_s,
        )
    except WireRefused as exc:
        raise SubscribeFailed(f"the Socket.IO connection or subscription was refused: {exc}") from None
    except TimeoutError:
        raise SubscribeFailed(
            f"connected, but no Socket.IO handshake and acknowledgement of subscribe to tenant "
            f"{group.tenant!r} within {group.connect_timeout_s:g} s (a server that accepts connections "
            "and never answers, or one too busy to)"
        ) from None
    except NotAWebsocket as exc:
        # the server answered, but not as a Socket.IO server would: a plain HTTP server, a proxy
        raise SubscribeFailed(
            f"no Socket.IO handshake with {group.url} (path {group.socketio_path}): {exc}; "
            "is a Socket.IO server there?"
        ) from None
    except OSError as exc:
        # the connection failed or broke before any Socket.IO answer
        raise SubscribeFailed(
            f"no Socket.IO handshake with {group.url} (path {group.socketio_path}): "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    if not (isinstance(ack, dict) and ack.get("ok") is True):
        await subscription.close()
        reason = ack.get("error") if isinstance(ack, dict) else ack
        raise SubscribeFailed(f"subscribe to tenant {group.tenant!r} was refused: {reason}")
    return subscription


async def _read(subscription: Subscription, subscriber: int, inbox: _Inbox) -> None:
    """Record each arrival as a receipt; the stamp was taken before the payload is parsed."""
    receipts = inbox.receipts

    def on_event(received_at_ms: float, payload_json: str) -> None:
        try:
            payload = json.loads(payload_json)
        except ValueError:
            return
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            seq = payload.get("seq")
            receipts.append((subscriber, payload["id"], seq if type(seq) is int else None, received_at_ms))

    if await subscription.run(on_event):  # closed by the target, not by us
        inbox.disconnects += 1


async def _drain(
    group: SubscriberGroup, receipts: list[Receipt], event_ids: set[str], deadline: float
) -> None:
    """Wait until every subscriber has seen every event, or until `deadline` (`clock.stamp_ms`)."""
    missing = {group.first + offset: set(event_ids) for offset in range(group.count)}
    checked = 0
    while missing and stamp_ms() < deadline:
        for subscriber, event_id, _seq, _at in receipts[checked:]:
            waiting = missing.get(subscriber)
            if waiting is not None:
                waiting.discard(event_id)
                if not waiting:
                    del missing[subscriber]
        checked = len(receipts)
        if missing:
            await asyncio.sleep(DRAIN_POLL_S)
