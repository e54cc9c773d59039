"""The subscriber's websocket reader on frames the reference target does not send in the tests
that run it (fragments, long lengths, control frames): fed as bytes, as a socket would hand them."""

from __future__ import annotations

import asyncio
import struct

from verification_pipeline.fanout.wire import Subscription


class _Transport(asyncio.Transport):
    """Stands in for the socket: records what the subscriber writes (no server needed to answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def _server_frame(opcode: int, payload: bytes, *, final: bool = True) -> bytes:
    """A server frame: unmasked, with the 7-, 16- or 64-bit length form its size needs."""
    first = (0x80 if final else 0) | opcode
    if len(payload) < 126:
        return struct.pack("!BB", first, len(payload)) + payload
    return struct.pack("!BBH", first, 126, len(payload)) + payload


def _unmasked(frame: bytes) -> tuple[int, bytes]:
    """(opcode, payload) of one of our masked client frames."""
    length = frame[1] & 0x7F
    mask, body = frame[2:6], frame[6 : 6 + length]
    return frame[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(body))


async def _subscribed() -> tuple[Subscription, _Transport, list[tuple[float, str]]]:
    subscription = Subscription("coherenceEvents")
    transport = _Transport()
    subscription.connection_made(transport)
    subscription.data_received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    events: list[tuple[float, str]] = []
    task = asyncio.get_running_loop().create_task(
        subscription.run(lambda at, data: events.append((at, data)))
    )
    await asyncio.sleep(0)
    assert not task.done()
    return subscription, transport, events


def test_events_in_one_read_fragments_and_long_frames_are_all_stamped_and_pings_answered() -> None:
    async def scenario() -> None:
        subscription, transport, events = await _subscribed()
        long_data = '{"id":"e2","pad":"' + "x" * 300 + '"}'
        burst = (
            _server_frame(0x1, b'42["coherenceEvents",{"id":"e1","seq":1}]')
            + _server_frame(0x1, b'42["coherenceEvents",{"id":', final=False)
            + _server_frame(0x0, b'"e3"}]')
            + _server_frame(0x9, b"ping!")  # a websocket ping: a pong with the same payload
            + _server_frame(0x1, b"2")  # an Engine.IO ping: answered "3"
            + _server_frame(0x1, f'42["coherenceEvents",{long_data}]'.encode())
        )
        subscription.data_received(burst[:7])  # a read can end anywhere, even inside a header
        subscription.data_received(burst[7:])
        assert [data for _, data in events] == ['{"id":"e1","seq":1}', '{"id":"e3"}', long_data]
        assert len({at for at, _ in events}) == 1  # one read, one stamp, taken as it came in
        assert [_unmasked(frame) for frame in transport.written] == [(0xA, b"ping!"), (0x1, b"3")]
        subscription.data_received(_server_frame(0x8, struct.pack("!H", 1000)))
        assert transport.closed

    asyncio.run(scenario())


def test_a_masked_or_oversized_server_frame_ends_the_subscription() -> None:
    async def scenario() -> None:
        subscription, transport, _ = await _subscribed()
        subscription.data_received(struct.pack("!BBQ", 0x81, 127, 1 << 40))  # a terabyte announced
        assert transport.closed

    asyncio.run(scenario())
