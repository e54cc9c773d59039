"""Fan-out subscribers that ask for another tenant's room, held while the fan-out probe runs.

With the neighbour's token (VP_TARGET_JWT_NEIGHBOUR, a second tenant) they subscribe to the
measured tenant's room, the one the probe publishes to: the service must refuse the subscription,
and any event of that tenant delivered to them is a leak. Without it the main token asks for a
tenant it does not name; then only the subscription's answer can be checked (no event is
published there), and the plan says so. One row per subscriber (raw/authz.parquet, kind
`cross_tenant_subscribe`): `admitted` when the subscription was acknowledged or an event arrived,
`refused` when it was refused (403) or the connection was (401) and nothing arrived, `error` when
no answer came.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import polars as pl

from verification_pipeline.authz.probe import Kind, Outcome
from verification_pipeline.authz.schema import ROWS_SCHEMA
from verification_pipeline.authz.tokens import NEIGHBOUR_ENV, AuthzTokens, tenant_claim
from verification_pipeline.fanout.subscribers import open_tenant_subscription
from verification_pipeline.fanout.wire import NotAWebsocket, Subscription, WireRefused, websocket_url

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Intrusion:
    """Which token asks for which tenant's room, and whether events can reach it (said in the plan)."""

    token: str = field(repr=False)
    room: str
    how: str


def plan_intrusion(tokens: AuthzTokens, tenant: str) -> Intrusion:
    neighbour = tenant_claim(tokens.neighbour) if tokens.neighbour else None
    if tokens.neighbour and neighbour and neighbour != tenant:
        return Intrusion(
            tokens.neighbour, tenant, "the neighbour's token subscribes to the measured tenant's room"
        )
    return Intrusion(
        tokens.main,
        f"{tenant}-authz-other",
        f"the main token asks for another tenant's room ({NEIGHBOUR_ENV} not given: only the "
        "subscription's answer is checked, no event is published there)",
    )


@dataclass
class _Seen:
    ts: float
    status: int = 0
    latency_ms: float | None = None
    events: int = 0


@contextmanager
def cross_tenant_subscribers(
    socketio_url: str, intrusion: Intrusion, count: int, *, socketio_path: str = "socket.io"
) -> Iterator[list[pl.DataFrame]]:
    """Hold `count` intruding subscribers while the block runs; the yielded list gets their rows."""
    out: list[pl.DataFrame] = []
    seen: list[_Seen] = []
    ready = threading.Event()
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}
    stop_box: dict[str, asyncio.Event] = {}
    errors: list[BaseException] = []

    async def main() -> None:
        loop_box["loop"], stop_box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        url = websocket_url(socketio_url, socketio_path)
        subscriptions = await asyncio.gather(*(_intrude(url, intrusion, seen) for _ in range(count)))
        readers = [asyncio.create_task(_read(s, record)) for s, record in subscriptions if s is not None]
        ready.set()
        await stop_box["stop"].wait()
        for subscription, _ in subscriptions:
            if subscription is not None:
                await subscription.close()
        await asyncio.gather(*readers, return_exceptions=True)

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="authz-subscribers", daemon=True)
    thread.start()
    ready.wait(CONNECT_TIMEOUT_S * 2)
    try:
        yield out
    finally:
        if "loop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(stop_box["stop"].set)
        thread.join(CONNECT_TIMEOUT_S * 2)
    if errors:
        raise errors[0]
    out.append(_rows(seen))


async def _intrude(url: str, intrusion: Intrusion, seen: list[_Seen]) -> tuple[Subscription | None, _Seen]:
    record = _Seen(ts=time.time())
    seen.append(record)
    started = time.perf_counter()
    try:
        subscription, ack = await open_tenant_subscription(
            url, intrusion.token, intrusion.room, CONNECT_TIMEOUT_S
        )
    except WireRefused:
        record.status = 401
        return None, record
    except (TimeoutError, OSError, NotAWebsocket):
        return None, record
    record.latency_ms = (time.perf_counter() - started) * 1000.0
    record.status = 200 if isinstance(ack, dict) and ack.get("ok") is True else 403
    return subscription, record


async def _read(subscription: Subscription, record: _Seen) -> None:
    def on_event(_at_ms: float, _payload: str) -> None:
        record.events += 1

    with suppress(OSError):
        await subscription.run(on_event)


def _rows(seen: list[_Seen]) -> pl.DataFrame:
    def outcome(record: _Seen) -> str:
        if record.status == 200 or record.events:
            return Outcome.ADMITTED.value
        return Outcome.REFUSED.value if record.status in (401, 403) else Outcome.ERROR.value

    rows = [
        {
            "seq": 0,
            "ts": r.ts,
            "kind": Kind.CROSS_TENANT_SUBSCRIBE.value,
            "status": r.status,
            "outcome": outcome(r),
            "latency_ms": r.latency_ms,
        }
        for r in seen
    ]
    return pl.DataFrame(rows, schema=ROWS_SCHEMA)
