"""What a publish puts on the wire: a plain JSON body whose `ts` is the probe's own `_t0`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx

from verification_pipeline.fanout.accounting import Publish
from verification_pipeline.fanout.publisher import _publish


async def _publish_to_a_raw_server(tenant: str) -> tuple[Publish | str, bytes, float]:
    """One publish to a loopback socket server that keeps the request's bytes as they came."""
    request = bytearray()
    arrived: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while b"\r\n\r\n" not in request:
            request.extend(await reader.read(65536))
        head, _, body = bytes(request).partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        while len(body) < length:
            body += await reader.read(65536)
        request[:] = head + b"\r\n\r\n" + body
        arrived.append(datetime.now(UTC).timestamp() * 1000.0)
        answer = b'{"data":{"publishCoherenceSignal":"event-1"}}'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (len(answer), answer)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient() as client:
        outcome = await _publish(client, f"http://127.0.0.1:{port}/graphql", "tok.en.value", tenant)
    return outcome, bytes(request), arrived[0]


def test_the_body_is_plain_json_with_a_length_and_ts_is_the_publish_time():
    tenant = 'odd "tenant" }}} \\ name'
    outcome, request, arrived_ms = asyncio.run(_publish_to_a_raw_server(tenant))
    head, _, body = request.partition(b"\r\n\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.decode().partition(":") for line in head.split(b"\r\n")[1:])
    }
    assert "transfer-encoding" not in headers  # not chunked: some proxies refuse chunked POSTs
    assert int(headers["content-length"]) == len(body)
    signal = json.loads(body)["variables"]["input"]
    assert signal["tenantId"] == tenant and signal["type"] == "subtest"
    assert isinstance(outcome, Publish) and outcome.event_id == "event-1"
    # the `ts` the target echoes as `_t0` is the probe's publish time, to the microsecond
    ts = datetime.strptime(signal["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(ts.timestamp() * 1000.0 - outcome.published_at_ms) < 0.001
    # taken as the body left, so only the trip over loopback lies between it and the arrival
    assert 0 <= arrived_ms - outcome.published_at_ms < 250
