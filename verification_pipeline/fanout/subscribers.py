"""A group of Socket.IO subscribers on one event loop, run in a process of its own.

One event loop can only stamp so many arrivals per millisecond; past that it adds its own
queueing delay to every latency. The probe therefore splits its subscribers into groups, one
process and loop each, and this module is what runs in each of those processes. It talks to
the parent over a `multiprocessing` connection, with plain picklable messages:

    group  -> parent  ("ready", connected)  |  ("error", cause)
    parent -> group   ("drain", event_ids, deadline_epoch_s)  |  ("abort",)
    group  -> parent  ("result", receipts, loop_lag_ms, disconnects)

Receipts are `(subscriber, event_id, seq, received_at_ms)` tuples. Causes are sentences for a
person with the token removed, because they end up in error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import aiohttp
import socketio

from verification_pipeline.fanout.looplag import LoopLagMonitor
from verification_pipeline.fanout.redact import redact_token

log = logging.getLogger(__name__)

# Connecting hundreds of websockets at once makes the target's accept queue, not the
# fan-out, the thing being measured; a bounded number in flight keeps the start orderly.
CONNECTS_IN_FLIGHT = 20
DRAIN_POLL_S = 0.02

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
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    clients: list[socketio.AsyncClient] = []
    try:
        try:
            await _connect_all(group, session, clients, inbox)
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
        parent.send(("ready", len(clients)))
        order = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        if order[0] != "drain":
            return
        _, event_ids, deadline = order
        await _drain(group, inbox.receipts, set(event_ids), deadline)
        lag = await monitor.stop()
        parent.send(("result", inbox.receipts, lag, inbox.disconnects))
    finally:
        await monitor.stop()
        await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)
        await session.close()


async def _connect_all(
    group: SubscriberGroup,
    session: aiohttp.ClientSession,
    clients: list[socketio.AsyncClient],
    inbox: _Inbox,
) -> None:
    gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

    async def connect_one(subscriber: int) -> None:
        async with gate:
            clients.append(await _subscribe(group, subscriber, session, inbox))

    outcomes = await asyncio.gather(
        *(connect_one(group.first + offset) for offset in range(group.count)), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def connect(
    client: socketio.AsyncClient, url: str, socketio_path: str, token: str, timeout_s: float
) -> None:
    """Connect over websocket with the token as `auth`; SubscribeFailed gives the target's reason."""
    refusals: list[str] = []

    def on_connect_error(data: object) -> None:
        refusals.append(str(data.get("message", data)) if isinstance(data, dict) else str(data))

    client.on("connect_error", on_connect_error)
    try:
        await client.connect(
            url,
            auth={"token": token},
            transports=["websocket"],
            socketio_path=socketio_path,
            wait_timeout=timeout_s,
        )
    except socketio.exceptions.ConnectionError as exc:
        if exc.__cause__ is not None:
            # the transport failed before any Socket.IO answer: a plain HTTP server, a proxy, nothing
            detail = refusals[-1] if refusals else str(exc)
            raise SubscribeFailed(
                f"no Socket.IO handshake with {url} (path {socketio_path}): {detail}; "
                "is a Socket.IO server there?"
            ) from None
        # the server answered the handshake and refused the connection (its reason, e.g. a bad token)
        raise SubscribeFailed(
            f"the Socket.IO connection was refused: {refusals[-1] if refusals else exc}"
        ) from None


async def _subscribe(
    group: SubscriberGroup,
    subscriber: int,
    session: aiohttp.ClientSession,
    inbox: _Inbox,
) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False, http_session=session, handle_sigint=False)

    # Synchronous on purpose: the arrival is stamped before anything else can run.
    def on_event(payload: object) -> None:
        received_at_ms = time.time() * 1000.0
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            seq = payload.get("seq")
            inbox.receipts.append(
                (subscriber, payload["id"], seq if type(seq) is int else None, received_at_ms)
            )

    def on_disconnect(*_reason: object) -> None:
        inbox.disconnects += 1

    client.on("coherenceEvents", on_event)
    client.on("disconnect", on_disconnect)
    await connect(client, group.url, group.socketio_path, group.token, group.connect_timeout_s)
    try:
        ack = await client.call("subscribe", {"tenantId": group.tenant}, timeout=group.connect_timeout_s)
    except socketio.exceptions.TimeoutError:
        await client.disconnect()
        raise SubscribeFailed(
            f"no acknowledgement of subscribe to tenant {group.tenant!r} within {group.connect_timeout_s:g} s"
        ) from None
    if not (isinstance(ack, dict) and ack.get("ok") is True):
        await client.disconnect()
        reason = ack.get("error") if isinstance(ack, dict) else ack
        raise SubscribeFailed(f"subscribe to tenant {group.tenant!r} was refused: {reason}")
    return client


async def _drain(
    group: SubscriberGroup, receipts: list[Receipt], event_ids: set[str], deadline: float
) -> None:
    """Wait until every subscriber has seen every event, or until the grace period is over."""
    missing = {group.first + offset: set(event_ids) for offset in range(group.count)}
    checked = 0
    while missing and time.time() < deadline:
        for subscriber, event_id, _seq, _at in receipts[checked:]:
            waiting = missing.get(subscriber)
            if waiting is not None:
                waiting.discard(event_id)
                if not waiting:
                    del missing[subscriber]
        checked = len(receipts)
        if missing:
            await asyncio.sleep(DRAIN_POLL_S)
