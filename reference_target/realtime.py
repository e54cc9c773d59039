"""Socket.IO: subscribers per tenant room, and the fan-out of `coherenceEvents`.

A client connects with `auth={"token": JWT}` (or an `Authorization: Bearer` header), emits
`subscribe {"tenantId": T}` and is acked `{"ok": true, "tenantId": T}` when its token names T
and has `coherence:read`, else `{"ok": false, "error": ...}`. Every stored signal is emitted
to its tenant's room. The seed's client also sends `t0 {"_t0": epoch ms, "tenantId": T}`
after each publish; that needs `coherence:write` (it reaches every subscriber) and is echoed
to the room as an event of type "t0". A write's response is sent before its event is
emitted, so write latency does not grow with the number of subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from time import perf_counter
from typing import Any

import socketio
from engineio import packet as engineio_packet
from socketio import packet as socketio_packet
from socketio.exceptions import ConnectionRefusedError

from reference_target.faults import FaultInjector
from reference_target.metrics import TargetMetrics
from reference_target.store import CoherenceEvent, CoherenceStore, iso_utc
from reference_target.tokens import READ_SCOPE, WRITE_SCOPE, Claims, TokenRejected, TokenVerifier

EVENT = "coherenceEvents"
NAMESPACE = "/"
MAX_MESSAGE_BYTES = 16 * 1024
MAX_QUEUED_PER_SUBSCRIBER = 256

log = logging.getLogger(__name__)


def tenant_room(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


class Realtime:
    """The Socket.IO server and the fan-out it does for the GraphQL write path."""

    def __init__(
        self, verifier: TokenVerifier, store: CoherenceStore, faults: FaultInjector, metrics: TargetMetrics
    ) -> None:
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            # Tokens travel in the handshake payload, not in cookies, so any origin is safe.
            cors_allowed_origins="*",
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            # Handlers are short and never block, so run them in line rather than as a task each.
            async_handlers=False,
            logger=False,
            engineio_logger=False,
        )
        self._verifier = verifier
        self._store = store
        self._faults = faults
        self._metrics = metrics
        self._claims: dict[str, Claims] = {}
        self._emitting: set[asyncio.Task] = set()
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("subscribe", self._subscribe)
        self.sio.on("unsubscribe", self._unsubscribe)
        self.sio.on("t0", self._t0)

    async def publish(self, event: CoherenceEvent, started: float) -> None:
        """Emit `event` to its tenant's room, unless a fault drops it; `started` is its perf_counter() origin.

        Without a fan-out delay this does not suspend, so callers can await it on the request path.
        """
        if self._faults.drop_event():
            self._metrics.events_dropped["fault"].inc()
            return
        delay_ms = self._faults.fanout_delay_ms()
        if not delay_ms:
            await self._emit(event, started)
            return
        task = asyncio.get_running_loop().create_task(self._emit_after(delay_ms, event, started))
        self._emitting.add(task)
        task.add_done_callback(self._emitting.discard)

    async def _emit_after(self, delay_ms: float, event: CoherenceEvent, started: float) -> None:
        await asyncio.sleep(delay_ms / 1000.0)
        await self._emit(event, started)

    async def _emit(self, event: CoherenceEvent, started: float) -> None:
        # What AsyncServer.emit does, minus its task per recipient: under load every task is one
        # more trip through a busy event loop, and that trip is what subscribers would wait for.
        # The packet is encoded once; queueing it for each recipient does not suspend.
        payload = event.payload(time.time() * 1000.0)
        packet = self.sio.packet_class(socketio_packet.EVENT, namespace=NAMESPACE, data=[EVENT, payload])
        message = engineio_packet.Packet(engineio_packet.MESSAGE, packet.encode())
        for _, eio_sid in self.sio.manager.get_participants(NAMESPACE, tenant_room(event.tenant_id)):
            connection = self.sio.eio.sockets.get(eio_sid)
            if connection is not None and connection.queue.qsize() >= MAX_QUEUED_PER_SUBSCRIBER:
                # A subscriber that does not keep up must not make the server's memory grow.
                self._metrics.events_dropped["slow_subscriber"].inc()
                continue
            await self.sio.eio.send_packet(eio_sid, message)
        self._metrics.fanout.observe(perf_counter() - started)
        self._metrics.events_emitted.inc()

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not token:
            header = environ.get("HTTP_AUTHORIZATION", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else None
        if not isinstance(token, str) or not token:
            raise ConnectionRefusedError("missing token: connect with auth={'token': <JWT>}")
        try:
            self._claims[sid] = self._verifier.verify(token)
        except TokenRejected as rejection:
            raise ConnectionRefusedError(str(rejection)) from None

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self._claims.pop(sid, None)

    def connection_count(self) -> int:
        return len(self._claims)

    async def _subscribe(self, sid: str, data: Any = None) -> dict:
        tenant_id, refusal = self._authorize(sid, data, READ_SCOPE, "subscribe to")
        if refusal:
            return {"ok": False, "error": refusal}
        await self.sio.enter_room(sid, tenant_room(tenant_id))
        return {"ok": True, "tenantId": tenant_id}

    async def _unsubscribe(self, sid: str, data: Any = None) -> dict:
        tenant_id, refusal = self._authorize(sid, data, READ_SCOPE, "unsubscribe from")
        if refusal:
            return {"ok": False, "error": refusal}
        await self.sio.leave_room(sid, tenant_room(tenant_id))
        return {"ok": True, "tenantId": tenant_id}

    async def _t0(self, sid: str, data: Any = None) -> dict:
        started = perf_counter()
        tenant_id, refusal = self._authorize(sid, data, WRITE_SCOPE, "send t0 to")
        if refusal:
            return {"ok": False, "error": refusal}
        t0_ms = data.get("_t0") if isinstance(data, dict) else None
        if isinstance(t0_ms, bool) or not isinstance(t0_ms, (int, float)) or not math.isfinite(t0_ms):
            return {"ok": False, "error": "t0 needs {'_t0': <epoch milliseconds>}"}
        event = self._store.echo(tenant_id, iso_utc(t0_ms / 1000.0), float(t0_ms))
        await self.publish(event, started)
        return {"ok": True, "id": event.id}

    def _authorize(self, sid: str, data: Any, scope: str, verb: str) -> tuple[str, str | None]:
        """The tenant a message names (default: the token's) and why it is refused, if it is."""
        claims = self._claims.get(sid)
        if claims is None:
            return "", "not authenticated; reconnect with a token"
        if claims.expires_at <= time.time():
            return "", "token has expired; reconnect with a new token"
        tenant_id = data.get("tenantId", claims.tenant) if isinstance(data, dict) else None
        if not isinstance(tenant_id, str) or not tenant_id:
            return "", f"{verb} needs {{'tenantId': <string>}}"
        # the cross_tenant_leak_rate fault lets that share of cross-tenant subscriptions through too
        if tenant_id != claims.tenant and not self._faults.cross_tenant_leak(0):
            return tenant_id, f"token for tenant {claims.tenant!r} may not {verb} tenant {tenant_id!r}"
        if not claims.allows(scope):
            return tenant_id, f"token lacks the {scope!r} scope needed to {verb} a tenant"
        return tenant_id, None
