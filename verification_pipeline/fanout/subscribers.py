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

At 1,000 subscribers a process's loop lag is what decides whether the probe measured the
target or itself (benchmarks/RESULTS.md, issue 24). The loop is uvloop's: with the same code on
asyncio's loop, 500 subscribers per process lagged 8-12 ms (p99), on uvloop's 1.5-1.9 ms, for
the same CPU per arrival. An arrival is stamped and kept as the payload's JSON text; payloads
are decoded only once every subscriber still awaited has had as many arrivals as there are
events, so no decoding (7-8 us a payload) stands between two arrivals. The loop's lag is
sampled from `ready` to the end of the drain: the window in which arrivals are stamped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from verification_pipeline.fanout.clock import stamp_ms
from verification_pipeline.fanout.looplag import LoopLagMonitor, collector_at_rest
from verification_pipeline.fanout.redact import redact_token
from verification_pipeline.fanout.wire import NotAWebsocket, Subscription, WireRefused, websocket_url

log = logging.getLogger(__name__)

# Connecting hundreds of websockets at once makes the target's accept queue, not the
# fan-out, the thing being measured; a bounded number in flight keeps the start orderly.
CONNECTS_IN_FLIGHT = 20
DRAIN_POLL_S = 0.02
# Payloads decoded per step once the drain decodes them, between which the loop serves arrivals
# and its lag ticker. At 500 a step held the loop ~4 ms (7-8 us a payload), and the 50 steps of a
# 1,000 x 50 run were a tenth of the window's lag samples: the p99 read 4-6 ms from the decoding
# alone. At 50 a step is ~0.4 ms (issue 24).
DECODE_CHUNK = 50
EVENT = "coherenceEvents"

Receipt = tuple[int, str, int | None, float]
_T = TypeVar("_T")


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
    """What the group's subscribers saw: every arrival, and how many connections the target closed.

    An arrival is kept as it came, `(subscriber, received_at_ms, payload JSON text)`, and counted
    per subscriber (`arrivals`, by offset in the group); `decode` turns arrivals into receipts.
    """

    first: int
    arrivals: list[int]
    raw: list[tuple[int, float, str]] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    decoded: int = 0
    disconnects: int = 0

    @classmethod
    def of(cls, group: SubscriberGroup) -> _Inbox:
        return cls(first=group.first, arrivals=[0] * group.count)

    def on_event(self, subscriber: int) -> Callable[[float, str], None]:
        """The wire's callback for one subscriber: keep the arrival, count it, nothing else."""
        raw, arrivals, offset = self.raw, self.arrivals, subscriber - self.first

        def on_event(received_at_ms: float, payload_json: str) -> None:
            raw.append((subscriber, received_at_ms, payload_json))
            arrivals[offset] += 1

        return on_event

    def decode(self, limit: int | None = None) -> int:
        """Decode up to `limit` (all: None) arrivals not yet decoded into receipts; how many it decoded.

        A payload that is not a JSON object with a string `id` is no event of ours and leaves no receipt.
        """
        end = len(self.raw) if limit is None else min(len(self.raw), self.decoded + limit)
        receipts = self.receipts
        for subscriber, received_at_ms, payload_json in self.raw[self.decoded : end]:
            try:
                payload = json.loads(payload_json)
            except ValueError:
                continue
            if isinstance(payload, dict) and isinstance(payload.get("id"), str):
                seq = payload.get("seq")
                receipts.append(
                    (subscriber, payload["id"], seq if type(seq) is int else None, received_at_ms)
                )
        done = end - self.decoded
        self.decoded = end
        return done


class SubscribeFailed(Exception):
    """A subscriber could not connect or join the tenant's room; the message is the cause."""


def run_group(group: SubscriberGroup, parent: Connection) -> None:
    """Process entry point: hold the group's subscribers until the parent says drain or abort."""
    with contextlib.suppress(BrokenPipeError, EOFError):  # the parent went away: nobody to report to
        run_loop(_hold(group, parent))


def run_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` on uvloop's loop where uvloop is installed (with uvicorn[standard], on Linux and
    macOS), else on asyncio's."""
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] leaves it out on Windows: asyncio's loop, only slower
        return asyncio.run(main)
    return uvloop.run(main)


async def _hold(group: SubscriberGroup, parent: Connection) -> None:
    monitor = LoopLagMonitor()
    inbox = _Inbox.of(group)
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
        # The heap is built; from here on arrivals are stamped: the lag that matters is this window's.
        with collector_at_rest():
            monitor.start()
            parent.send(("ready", len(subscriptions)))
            order = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
            if order[0] != "drain":
                return
            _, event_ids, deadline = order
            await _drain(inbox, set(event_ids), deadline)
            lag = await monitor.stop()
            inbox.decode()
            parent.send(("result", inbox.receipts, lag, inbox.disconnects))
    finally:
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


async def open_tenant_subscription(
    url: str, token: str, tenant: str, timeout_s: float
) -> tuple[Subscription, object]:
    """Connect with `token` and subscribe to `tenant`'s coherence events: the subscription and its
    acknowledgement; raises what `Subscription.open` raises."""
    return await Subscription.open(
        url,
        auth={"token": token},
        subscribe=("subscribe", {"tenantId": tenant}),
        event_name=EVENT,
        timeout_s=timeout_s,
    )


async def subscribe_one(group: SubscriberGroup, url: str) -> Subscription:
    """One subscriber of `group`, connected and subscribed; SubscribeFailed says why not, for a person."""
    try:
        subscription, ack = await open_tenant_subscription(
            url, group.token, group.tenant, group.connect_timeout_s
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
    """Keep each arrival with its stamp (taken as its bytes came off the socket); count the target's closes."""
    if await subscription.run(inbox.on_event(subscriber)):  # closed by the target, not by us
        inbox.disconnects += 1


async def _drain(inbox: _Inbox, event_ids: set[str], deadline: float) -> None:
    """Wait until every subscriber has seen every event, or until `deadline` (`clock.stamp_ms`).

    Payloads are decoded only once each subscriber still waited for has had at least as many
    arrivals as there are events (until then one cannot have them all), a chunk at a time so
    that arrivals still coming (a foreign event or a duplicate filled a count) wait one chunk at most.
    """
    first = inbox.first
    missing = {first + offset: set(event_ids) for offset in range(len(inbox.arrivals))}
    checked = 0
    while missing and stamp_ms() < deadline:
        if min(inbox.arrivals[subscriber - first] for subscriber in missing) >= len(event_ids):
            while inbox.decode(DECODE_CHUNK):
                await asyncio.sleep(0)
            for subscriber, event_id, _seq, _at in inbox.receipts[checked:]:
                waiting = missing.get(subscriber)
                if waiting is not None:
                    waiting.discard(event_id)
                    if not waiting:
                        del missing[subscriber]
            checked = len(inbox.receipts)
        if missing:
            await asyncio.sleep(DRAIN_POLL_S)
