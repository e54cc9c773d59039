"""A Socket.IO subscriber that does nothing but stamp arrivals: Engine.IO v4 over one websocket.

python-socketio's client spends about 0.1-0.2 ms of Python per event it receives (a task per
Engine.IO message, a `wait_for` per websocket read, two JSON decoders, the handler dispatch).
At 1,000 subscribers x one event every ~15 ms that is more CPU than two cores have, so the
probe measured its own queue. aiohttp's websocket still wakes a task per message (about 27 us
of CPU per arrival, measured with py-spy: benchmarks/RESULTS.md), and a subscriber process
stamps a burst of arrivals one after the other. So this module speaks the websocket itself,
as an asyncio protocol: the bytes of each read are stamped once, as they come off the socket,
and their frames are handed on from the same callback, with no task, queue or future per
message. The probe needs four things from the protocol: connect with `auth`, emit `subscribe`
and read its acknowledgement, answer the server's pings, and stamp each `coherenceEvents` packet.

Packets, text frames only (the target sends no binary): Engine.IO `0` open, `2` ping (answer
`3`), `1` close, `4` message; the message carries a Socket.IO packet on the default namespace:
`0` connect (`40{auth}` / `40{"sid":..}`), `4` connect error, `1` disconnect, `2` event
(`42["name",data]`), `3` ack (`43<id>[data]`). Websocket frames (RFC 6455): the server's are
unmasked, ours are masked; control frames (close, ping) are answered here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import struct
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from verification_pipeline.fanout.clock import stamp_ms

# Engine.IO + Socket.IO prefixes, as text on the wire.
_OPEN, _PING, _PONG, _CLOSE = "0", "2", "3", "1"
_CONNECT, _CONNECT_ERROR, _DISCONNECT, _EVENT, _ACK = "40", "44", "41", "42", "43"
_SUBSCRIBE_ACK_ID = "0"
# The biggest packet a subscriber accepts: the target's events are well under 1 KiB.
MAX_PACKET_BYTES = 64 * 1024
# The HTTP answer to the upgrade: a status line and a few headers.
_MAX_HANDSHAKE_BYTES = 16 * 1024
_TEXT, _BINARY, _CONTINUATION, _CLOSE_FRAME, _PING_FRAME, _PONG_FRAME = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA

# (received_at_ms on `clock.stamp_ms`, event payload as JSON text): parsed by the caller, after the stamp.
OnEvent = Callable[[float, str], None]


class WireRefused(Exception):
    """The target refused the connection or the subscription; the message is its reason."""


class NotAWebsocket(Exception):
    """The server answered, but not with a websocket (a plain HTTP server, a proxy); the message says what."""


def websocket_url(base_url: str, socketio_path: str) -> str:
    """`http://host:port/prefix` -> `ws://host:port/prefix/socket.io/?EIO=4&transport=websocket`."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = f"{parts.path.rstrip('/')}/{socketio_path.strip('/')}/"
    return urlunsplit((scheme, parts.netloc, path, "EIO=4&transport=websocket", ""))


class Subscription(asyncio.Protocol):
    """One subscriber's websocket, from handshake to close; `run()` stamps events until it closes."""

    def __init__(self, event_name: str) -> None:
        # The exact prefix of an event packet for us: `42["coherenceEvents",`.
        self._event_prefix = f"{_EVENT}[{json.dumps(event_name)},"
        self.closing = False
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self._on_event: OnEvent | None = None
        self._packets: asyncio.Queue[str | None] = asyncio.Queue()  # the handshake's packets
        self._upgrade: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        auth: dict,
        subscribe: tuple[str, dict],
        event_name: str,
        timeout_s: float,
    ) -> tuple[Subscription, object]:
        """Connect, authenticate, emit `subscribe` and return the subscription and its acknowledgement.

        Raises WireRefused with the target's words, NotAWebsocket when the server answers the
        upgrade with anything else, TimeoutError past `timeout_s`, or OSError when the
        connection cannot be made or breaks.
        """
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            _, subscription = await loop.create_connection(
                lambda: cls(event_name),
                host,
                port,
                ssl=ssl.create_default_context() if secure else None,
            )
            try:
                await subscription._handshake(parts.path or "/", parts.query, host, port)
                await subscription._expect(_OPEN)
                subscription._send(_CONNECT + json.dumps(auth, separators=(",", ":")))
                answer = await subscription._expect(_CONNECT, _CONNECT_ERROR)
                if answer.startswith(_CONNECT_ERROR):
                    raise WireRefused(_refusal(answer[len(_CONNECT_ERROR) :]))
                subscription._send(
                    _EVENT + _SUBSCRIBE_ACK_ID + json.dumps(list(subscribe), separators=(",", ":"))
                )
                ack = await subscription._expect(_ACK + _SUBSCRIBE_ACK_ID)
                data = json.loads(ack[len(_ACK + _SUBSCRIBE_ACK_ID) :])
            except BaseException:
                await subscription.close()
                raise
        return subscription, (data[0] if isinstance(data, list) and data else None)

    async def run(self, on_event: OnEvent) -> bool:
        """Stamp every event until the socket closes; True when the target closed it, not us."""
        self._on_event = on_event
        # packets that came with the acknowledgement, before anyone listened
        while not self._packets.empty():
            packet = self._packets.get_nowait()
            if packet is not None and packet.startswith(self._event_prefix):
                on_event(stamp_ms(), packet[len(self._event_prefix) : -1])
        return await asyncio.shield(self._closed)

    async def close(self) -> None:
        self.closing = True
        if self._transport is not None and not self._transport.is_closing():
            if self._upgraded:
                self._transport.write(_frame(_CLOSE_FRAME, struct.pack("!H", 1000)))
            self._transport.close()
        if not self._closed.done():
            self._finish()

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport: create_connection

    def data_received(self, data: bytes) -> None:
        received_at_ms = stamp_ms()  # first, before anything else is done with these bytes
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            self._read_upgrade()
            if not self._upgraded:
                return
        self._read_frames(received_at_ms)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._upgrade.done():
            self._upgrade.set_exception(
                exc or ConnectionResetError("the server closed the connection without answering the upgrade")
            )
        self._finish()

    # --- the websocket -----------------------------------------------------------------------------

    async def _handshake(self, path: str, query: str, host: str, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path}{'?' + query if query else ''} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self._write(request.encode())
        await self._upgrade

    def _read_upgrade(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HANDSHAKE_BYTES:
                self._fail_upgrade(NotAWebsocket("an answer to the websocket upgrade that never ends"))
            return
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        status_line = head.split("\r\n", 1)[0]
        if status_line.split(" ", 2)[1:2] != ["101"]:
            self._fail_upgrade(
                NotAWebsocket(f"the server answered the websocket upgrade with {status_line[:120]!r}")
            )
            return
        self._upgraded = True
        self._upgrade.set_result(None)

    def _fail_upgrade(self, error: Exception) -> None:
        if not self._upgrade.done():
            self._upgrade.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    def _read_frames(self, received_at_ms: float) -> None:
        buffer = self._buffer
        at = 0
        size = len(buffer)
        while size - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - at < 4:
                    break
                length = (buffer[at + 2] << 8) | buffer[at + 3]
                header = 4
            elif length == 127:
                if size - at < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, at + 2)
                header = 10
            if second & 0x80 or length > MAX_PACKET_BYTES:  # a server never masks; nor sends this much
                self._protocol_error()
                return
            if size - at < header + length:
                break
            payload = bytes(buffer[at + header : at + header + length])
            at += header + length
            opcode = first & 0x0F
            if opcode in (_TEXT, _CONTINUATION):
                if not first & 0x80:  # FIN clear: more fragments follow
                    self._fragments.append(payload)
                    continue
                if self._fragments:
                    payload = b"".join((*self._fragments, payload))
                    self._fragments.clear()
                self._packet(payload.decode("utf-8", "replace"), received_at_ms)
            elif opcode == _PING_FRAME:
                self._write(_frame(_PONG_FRAME, payload))
            elif opcode == _CLOSE_FRAME:
                del buffer[:at]
                self._finish()
                if self._transport is not None:
                    self._transport.close()
                return
            # binary and pong frames: nothing the probe needs
        del buffer[:at]

    def _packet(self, packet: str, received_at_ms: float) -> None:
        on_event = self._on_event
        if on_event is not None and packet.startswith(self._event_prefix):
            on_event(received_at_ms, packet[len(self._event_prefix) : -1])
        elif packet == _PING:
            self._send(_PONG)
        elif on_event is None:
            self._packets.put_nowait(packet)
        elif packet.startswith(_DISCONNECT) or packet == _CLOSE:
            self._finish()

    def _protocol_error(self) -> None:
        self._finish()
        if self._transport is not None:
            self._transport.close()

    def _finish(self) -> None:
        if not self._closed.done():
            self._closed.set_result(not self.closing)
        self._packets.put_nowait(None)

    def _send(self, text: str) -> None:
        self._write(_frame(_TEXT, text.encode()))

    def _write(self, frame: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(frame)

    async def _expect(self, *prefixes: str) -> str:
        """The next packet starting with one of `prefixes` (pings are answered as they come)."""
        while True:
            packet = await self._packets.get()
            if packet is None:
                raise WireRefused("the target closed the websocket during the handshake")
            if packet.startswith(prefixes):
                return packet
            if packet.startswith(_DISCONNECT) or packet == _CLOSE:
                raise WireRefused("the target disconnected during the handshake")


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame: masked, as RFC 6455 requires of a client."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = (
        int.from_bytes(payload, "big") ^ int.from_bytes((mask * (length // 4 + 1))[:length], "big")
    ).to_bytes(length, "big")
    return header + mask + masked


def _refusal(body: str) -> str:
    """The reason in a connect error (`{"message": ...}`), else the raw body, short."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200]
    return str(data.get("message", data))[:200] if isinstance(data, dict) else str(data)[:200]
