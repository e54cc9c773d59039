"""A Socket.IO subscriber that does nothing but stamp arrivals: Engine.IO v4 over one websocket.

python-socketio's client spends about 0.1-0.2 ms of Python per event it receives (a task per
Engine.IO message, a `wait_for` per websocket read, two JSON decoders, the handler dispatch).
At 1,000 subscribers x one event every ~15 ms that is more CPU than two cores have, so the
probe measured its own queue: on 2026-12-07 (load average 8-11) its loops lagged 90-130 ms
(p99) and the fan-out p95 came out at 0.9-1.2 s. The probe needs four things from the
protocol: connect with `auth`, emit `subscribe` and read its acknowledgement, answer the
server's pings, and stamp each `coherenceEvents` packet. That is what this module speaks,
on aiohttp's websocket (its frame reader is compiled), stamping a packet before anything else.

Packets, text frames only (the target sends no binary): Engine.IO `0` open, `2` ping (answer
`3`), `1` close, `4` message; the message carries a Socket.IO packet on the default namespace:
`0` connect (`40{auth}` / `40{"sid":..}`), `4` connect error, `1` disconnect, `2` event
(`42["name",data]`), `3` ack (`43<id>[data]`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from verification_pipeline.fanout.clock import stamp_ms

# Engine.IO + Socket.IO prefixes, as text on the wire.
_OPEN, _PING, _PONG, _CLOSE = "0", "2", "3", "1"
_CONNECT, _CONNECT_ERROR, _DISCONNECT, _EVENT, _ACK = "40", "44", "41", "42", "43"
_SUBSCRIBE_ACK_ID = "0"
# The biggest packet a subscriber accepts: the target's events are well under 1 KiB.
MAX_PACKET_BYTES = 64 * 1024

# (received_at_ms on `clock.stamp_ms`, event payload as JSON text): parsed by the caller, after the stamp.
OnEvent = Callable[[float, str], None]


class WireRefused(Exception):
    """The target refused the connection or the subscription; the message is its reason."""


def websocket_url(base_url: str, socketio_path: str) -> str:
    """`http://host:port/prefix` -> `ws://host:port/prefix/socket.io/?EIO=4&transport=websocket`."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path.rstrip('/')}/{socketio_path.strip('/')}/"
    return urlunsplit((scheme, parts.netloc, path, "EIO=4&transport=websocket", ""))


class Subscription:
    """One subscriber's websocket, from handshake to close; `run()` reads until it closes."""

    def __init__(self, websocket: aiohttp.ClientWebSocketResponse, event_name: str) -> None:
        self._ws = websocket
        # The exact prefix of an event packet for us: `42["coherenceEvents",`.
        self._event_prefix = f"{_EVENT}[{json.dumps(event_name)},"
        self.closing = False

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        *,
        auth: dict,
        subscribe: tuple[str, dict],
        event_name: str,
        timeout_s: float,
    ) -> tuple[Subscription, object]:
        """Connect, authenticate, emit `subscribe` and return the subscription and its acknowledgement.

        Raises WireRefused with the target's words, TimeoutError past `timeout_s`, or aiohttp's
        errors when the websocket cannot be opened.
        """
        async with asyncio.timeout(timeout_s):
            websocket = await session.ws_connect(url, autoping=True, max_msg_size=MAX_PACKET_BYTES)
            subscription = cls(websocket, event_name)
            try:
                await subscription._expect(_OPEN)
                await websocket.send_str(_CONNECT + json.dumps(auth, separators=(",", ":")))
                answer = await subscription._expect(_CONNECT, _CONNECT_ERROR)
                if answer.startswith(_CONNECT_ERROR):
                    raise WireRefused(_refusal(answer[len(_CONNECT_ERROR) :]))
                await websocket.send_str(
                    _EVENT + _SUBSCRIBE_ACK_ID + json.dumps(list(subscribe), separators=(",", ":"))
                )
                ack = await subscription._expect(_ACK + _SUBSCRIBE_ACK_ID)
                data = json.loads(ack[len(_ACK + _SUBSCRIBE_ACK_ID) :])
            except BaseException:
                await websocket.close()
                raise
        return subscription, (data[0] if isinstance(data, list) and data else None)

    async def run(self, on_event: OnEvent) -> bool:
        """Stamp every event until the socket closes; True when the target closed it, not us."""
        receive, prefix, cut = self._ws.receive, self._event_prefix, len(self._event_prefix)
        text = aiohttp.WSMsgType.TEXT
        while True:
            message = await receive()
            received_at_ms = stamp_ms()  # first, before anything else can run
            if message.type is not text:
                return not self.closing
            data = message.data
            if data.startswith(prefix):
                on_event(received_at_ms, data[cut:-1])
            elif data == _PING:
                await self._ws.send_str(_PONG)
            elif data.startswith(_DISCONNECT) or data == _CLOSE:
                return not self.closing

    async def close(self) -> None:
        self.closing = True
        await self._ws.close()

    async def _expect(self, *prefixes: str) -> str:
        """The next packet starting with one of `prefixes`, answering pings on the way."""
        while True:
            message = await self._ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise WireRefused(
                    f"the target closed the websocket during the handshake ({message.type.name})"
                )
            data = message.data
            if data == _PING:
                await self._ws.send_str(_PONG)
            elif data.startswith(prefixes):
                return data
            elif data.startswith(_DISCONNECT) or data == _CLOSE:
                raise WireRefused("the target disconnected during the handshake")


def _refusal(body: str) -> str:
    """The reason in a connect error (`{"message": ...}`), else the raw body, short."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200]
    return str(data.get("message", data))[:200] if isinstance(data, dict) else str(data)[:200]
