"""Publish coherence signals through the GraphQL mutation, as the seed's script does.

Each signal's `ts` is the publish's `_t0`: the target parses it and echoes it on the event, and
latency is measured from it. It is the moment the request starts going out on the wire (after
the client has built it), so the figure covers the whole path from publish to arrival and
none of the client's own request building.

At the seed's cadence the seed's script also emits `t0 {"_t0": now}` on its socket after each
publish, and the target echoes that to the room; the script's p95 mixes those echoes with the
publishes. `T0Emitter` does the same, so the probe can give the figure the seed's method gives
(see `metrics.seed_method_figures`) beside its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self

import httpx
import socketio

from verification_pipeline.errors import TargetError
from verification_pipeline.fanout.accounting import Publish
from verification_pipeline.fanout.clock import as_epoch_ms, stamp_ms
from verification_pipeline.fanout.redact import redact_token
from verification_pipeline.fanout.subscribers import SubscribeFailed

log = logging.getLogger(__name__)

PUBLISH_MUTATION = "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }"
# The seed's cadence: the next publish starts 10 ms after the previous one answered.
SEED_PAUSE_S = 0.010
# GraphQL error codes (and HTTP statuses) that mean "this token will never be accepted":
# carrying on would only fill the report with the same refusal.
REFUSAL_CODES = {"UNAUTHENTICATED", "FORBIDDEN"}
REFUSAL_STATUSES = {401, 403}
# A signal's `ts`: RFC 3339 UTC with microseconds, always the same length.
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TS_LENGTH = len("2026-01-01T00:00:00.000000Z")


@dataclass
class PublishOutcome:
    """What the target accepted, and why the rest failed (one sentence per failed publish)."""

    publishes: list[Publish] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def publish_signals(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    tenant: str,
    events: int,
    *,
    rate: float | None,
    on_published: Callable[[int], None] | None = None,
    after_publish: Callable[[], Awaitable[None]] | None = None,
) -> PublishOutcome:
    """Send `events` signals, at the seed's cadence (`rate` None) or `rate` per second.

    At the seed's cadence, `after_publish` runs after each publish and before the pause, where
    the seed's script emits its `t0` message.

    A fixed rate is an open model: publishes start on schedule whether or not earlier ones
    have answered, so a slow target cannot slow the offered load down.
    """
    outcome = PublishOutcome()
    done = 0

    async def publish_one() -> None:
        nonlocal done
        event = await _publish(client, url, token, tenant)
        if isinstance(event, Publish):
            outcome.publishes.append(event)
        else:
            outcome.failures.append(event)
        done += 1
        if on_published is not None:
            on_published(done)

    if rate is None:
        for _ in range(events):
            await publish_one()
            if after_publish is not None:
                await after_publish()
            await asyncio.sleep(SEED_PAUSE_S)
    else:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            async with asyncio.TaskGroup() as group:
                for index in range(events):
                    await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
                    group.create_task(publish_one())
        except* TargetError as refused:
            raise refused.exceptions[0] from None
    outcome.publishes.sort(key=lambda publish: publish.published_at_ms)
    return outcome


async def warm_up(client: httpx.AsyncClient, url: str, token: str) -> None:
    """Open the connection and load the HTTP stack with a `{ __typename }` query, untimed.

    The first request of a fresh client pays for lazy imports and the TCP handshake (well over
    100 ms here); the seed's Node client pays none of that in its figure, so neither do we.
    A refused token already shows here, before any signal is published.
    """
    try:
        response = await client.post(
            url, json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.TransportError as exc:
        raise _unreachable(url, exc, token) from None
    _refuse_refused(url, response, token, "scopes coherence:read and coherence:write")


def _unreachable(url: str, exc: httpx.TransportError, token: str) -> TargetError:
    return TargetError(f"{url}: cannot reach the GraphQL endpoint: {redact_token(str(exc), token)}")


def _refuse_refused(url: str, response: httpx.Response, token: str, scopes: str) -> None:
    """A refused token fails for good: no later request can succeed either."""
    if response.status_code in REFUSAL_STATUSES:
        raise TargetError(
            f"{url}: the target refused the token (HTTP {response.status_code}: {_reason(response, token)})",
            hint=f"mint a token with {scopes} for this tenant",
        )


async def _publish(client: httpx.AsyncClient, url: str, token: str, tenant: str) -> Publish | str:
    """One publish: the accepted event, or a sentence saying why it failed.

    Raises TargetError when the target cannot be reached or refuses the token, since no
    later publish can succeed either.
    """
    head, tail = _signal_body(tenant)
    stamped: list[float] = []  # clock.stamp_ms(); the body's `ts` is the same instant as epoch time
    try:
        response = await _post_stamped(client, url, token, head, tail, stamped)
    except httpx.TimeoutException:
        return f"publish timed out after {client.timeout.read:g} s"
    except httpx.TransportError as exc:
        raise _unreachable(url, exc, token) from None
    _refuse_refused(url, response, token, "scope coherence:write")
    return _accepted(url, response, token, stamped)


def _signal_body(tenant: str) -> tuple[bytes, bytes]:
    """The mutation's JSON body around its `ts`: what goes before the timestamp, and after it."""
    body = {
        "query": PUBLISH_MUTATION,
        "variables": {
            "input": {
                "tenantId": tenant,
                "type": "subtest",
                "value": random.random(),
                "source": "fanout-probe",
            }
        },
    }
    # `ts` goes last in `input`: the encoded body ends with the three braces that close it.
    return json.dumps(body, separators=(",", ":")).encode()[:-3] + b',"ts":"', b'"}}}'


async def _post_stamped(
    client: httpx.AsyncClient, url: str, token: str, head: bytes, tail: bytes, stamped: list[float]
) -> httpx.Response:
    """POST `head` + ts + `tail`, ts the moment the request starts going out, also appended to `stamped`."""

    # `ts` is the moment the request starts going out: httpx reports it (its `trace` extension)
    # just before writing the headers, after building the request, which costs it about half a
    # millisecond that is no part of the fan-out (the seed's Node client pays far less). The
    # body, written after the headers, carries that moment. The target's work on the request,
    # from its first byte on, stays inside the figure.
    async def trace(event: str, _info: dict) -> None:
        if event.endswith("send_request_headers.started") and not stamped:
            stamped.append(stamp_ms())

    async def stamped_body() -> AsyncIterator[bytes]:
        if not stamped:  # a transport that reports no trace events
            stamped.append(stamp_ms())
        ts = datetime.fromtimestamp(as_epoch_ms(stamped[0]) / 1000.0, UTC)
        yield head + ts.strftime(_TS_FORMAT).encode() + tail

    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        # A fixed-length `ts` keeps the length known: a plain body, not chunked encoding.
        "Content-Length": str(len(head) + _TS_LENGTH + len(tail)),
    }
    return await client.post(url, content=stamped_body(), headers=headers, extensions={"trace": trace})


def _accepted(url: str, response: httpx.Response, token: str, stamped: list[float]) -> Publish | str:
    """The event the target accepted, stamped when it went out, or a sentence saying why there is none.

    Raises TargetError when the GraphQL errors say the token is refused.
    """
    if not response.is_success:
        return f"HTTP {response.status_code}: {_reason(response, token)}"
    try:
        answer = response.json()
    except ValueError:
        return f"HTTP {response.status_code} with a body that is not JSON"
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        codes = {(error.get("extensions") or {}).get("code") for error in errors if isinstance(error, dict)}
        if codes & REFUSAL_CODES:
            raise TargetError(
                f"{url}: the target refused the token ({_reason(response, token)})",
                hint="mint a token with scope coherence:write for this tenant",
            )
        return f"GraphQL error: {_reason(response, token)}"
    event_id = ((answer.get("data") or {}) if isinstance(answer, dict) else {}).get("publishCoherenceSignal")
    if not isinstance(event_id, str) or not event_id:
        return f"publishCoherenceSignal returned {event_id!r}, not an event id"
    if not stamped:  # answered without reading the body: no `ts` went out to measure from
        return "the target answered before the signal was sent"
    return Publish(event_id, as_epoch_ms(stamped[0]))


def _reason(response: httpx.Response, token: str) -> str:
    """The target's own words for a failure, short and without the token."""
    try:
        answer = response.json()
    except ValueError:
        return redact_token(response.text[:200], token) or response.reason_phrase
    if isinstance(answer, dict):
        errors = answer.get("errors") or []
        messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
        if messages:
            return redact_token("; ".join(messages)[:200], token)
        if answer.get("error") or answer.get("detail"):
            return redact_token(str(answer.get("error") or answer.get("detail"))[:200], token)
    return response.reason_phrase


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


class T0Emitter:
    """A Socket.IO connection of the publisher's that emits the seed's `t0` message.

    `emit()` sends `t0 {"_t0": epoch ms, "tenantId": T}` without waiting (the seed's script does
    not wait either); the target's acknowledgement names the echo event, which becomes a
    `Publish` in `echoes`, so echo arrivals are matched by id like publishes. It is not a
    subscriber: it never joins the room.
    """

    def __init__(self, url: str, socketio_path: str, token: str, tenant: str, timeout_s: float) -> None:
        self.url, self.socketio_path, self.tenant, self.timeout_s = url, socketio_path, tenant, timeout_s
        self._token = token
        self._client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self._sent = 0
        self._acked = asyncio.Event()
        self.echoes: list[Publish] = []
        self.refusals: list[str] = []

    async def __aenter__(self) -> Self:
        try:
            await connect(self._client, self.url, self.socketio_path, self._token, self.timeout_s)
        except SubscribeFailed as exc:
            raise TargetError(f"{self.url}: t0 messages: {redact_token(str(exc), self._token)}") from None
        return self

    async def emit(self) -> None:
        t0_ms = float(int(as_epoch_ms(stamp_ms())))  # whole ms, as `Date.now()` in the seed's script
        self._sent += 1

        def acknowledged(answer: object = None) -> None:
            if isinstance(answer, dict) and answer.get("ok") is True and isinstance(answer.get("id"), str):
                self.echoes.append(Publish(answer["id"], t0_ms))
            else:
                reason = answer.get("error") if isinstance(answer, dict) else answer
                self.refusals.append(redact_token(f"t0 refused: {reason}", self._token))
            if len(self.echoes) + len(self.refusals) == self._sent:
                self._acked.set()

        self._acked.clear()
        await self._client.emit("t0", {"_t0": t0_ms, "tenantId": self.tenant}, callback=acknowledged)

    async def __aexit__(self, *_exc: object) -> None:
        """Wait (bounded) for the last acknowledgements, then disconnect."""
        if len(self.echoes) + len(self.refusals) < self._sent:
            try:
                await asyncio.wait_for(self._acked.wait(), self.timeout_s)
            except TimeoutError:
                missing = self._sent - len(self.echoes) - len(self.refusals)
                log.warning("%d t0 messages were not acknowledged within %g s", missing, self.timeout_s)
        await self._client.disconnect()
