"""Socket.IO: token on connect, subscribe only to your tenant, every publish fanned out with `_t0`."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest
import socketio

from tests.target.helpers import now_iso, write


class Subscriber:
    """An AsyncClient that records every coherenceEvents payload it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[dict] = []
        self.refusals: list[object] = []
        self.client.on("coherenceEvents", self._record)
        self.client.on("connect_error", self.refusals.append)

    async def _record(self, payload: dict) -> None:
        self.events.append({**payload, "_received_ms": time.time() * 1000})

    async def connect(self, base_url: str, token: str | None) -> None:
        await self.client.connect(
            base_url, auth={"token": token} if token else None, transports=["websocket"]
        )

    async def call(self, event: str, data: dict) -> dict:
        return await self.client.call(event, data, timeout=5)

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.events


async def _subscribed(target, tenant: str, scopes=("coherence:read", "coherence:write")) -> Subscriber:
    subscriber = Subscriber()
    await subscriber.connect(target.base_url, target.token(tenant, scopes=scopes))
    assert await subscriber.call("subscribe", {"tenantId": tenant}) == {"ok": True, "tenantId": tenant}
    return subscriber


async def _publish(target, tenant: str, value: float = 0.5, ts: str | None = None) -> str:
    response = await asyncio.to_thread(
        write, target.graphql_url, target.token(tenant), tenant, value, ts=ts or now_iso()
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["publishCoherenceSignal"]


@pytest.mark.parametrize(
    ("token_for", "reason"),
    [
        (lambda target: None, "missing token"),
        (lambda target: target.token(ttl_s=-1), "expired"),
        (lambda target: "x.y.z", "not a well-formed JWT"),
    ],
    ids=["no-token", "expired", "garbage"],
)
def test_connect_without_a_valid_token_is_refused_with_the_reason(target, token_for, reason):
    async def scenario() -> None:
        subscriber = Subscriber()
        with pytest.raises(socketio.exceptions.ConnectionError):
            await subscriber.connect(target.base_url, token_for(target))
        assert len(subscriber.refusals) == 1
        assert reason in subscriber.refusals[0]["message"]

    asyncio.run(scenario())


def test_published_signal_reaches_its_tenant_with_id_seq_and_t0(target):
    async def scenario() -> None:
        subscriber = await _subscribed(target, "tenant-events")
        ts = now_iso()
        event_ids = [
            await _publish(target, "tenant-events", 0.25, ts),
            await _publish(target, "tenant-events", 0.75),
        ]
        events = await subscriber.wait_for(2)
        await subscriber.client.disconnect()
        assert [event["id"] for event in events] == event_ids
        first = events[0]
        assert first["tenantId"] == "tenant-events"
        assert (first["type"], first["value"], first["source"], first["ts"]) == ("test", 0.25, "pytest", ts)
        assert first["_t0"] == datetime.fromisoformat(ts).timestamp() * 1000
        assert first["_t0"] <= first["emittedAt"] <= first["_received_ms"]
        assert events[1]["seq"] == first["seq"] + 1

    asyncio.run(scenario())


def test_events_never_cross_tenants(target):
    async def scenario() -> None:
        alice = await _subscribed(target, "tenant-alice")
        bob = await _subscribed(target, "tenant-bob")
        await _publish(target, "tenant-alice")
        await alice.wait_for(1)
        await asyncio.sleep(0.3)
        await alice.client.disconnect()
        await bob.client.disconnect()
        assert len(alice.events) == 1
        assert bob.events == []

    asyncio.run(scenario())


def test_subscribing_to_another_tenant_is_refused_in_the_ack(target):
    async def scenario() -> None:
        subscriber = Subscriber()
        await subscriber.connect(target.base_url, target.token("tenant-eve"))
        ack = await subscriber.call("subscribe", {"tenantId": "tenant-carol"})
        await _publish(target, "tenant-carol")
        await asyncio.sleep(0.3)
        await subscriber.client.disconnect()
        assert ack == {
            "ok": False,
            "error": "token for tenant 'tenant-eve' may not subscribe to tenant 'tenant-carol'",
        }
        assert subscriber.events == []

    asyncio.run(scenario())


def test_subscribe_needs_read_scope_and_a_tenant_id(target):
    async def scenario() -> None:
        subscriber = Subscriber()
        await subscriber.connect(target.base_url, target.token("tenant-w", scopes=("coherence:write",)))
        no_scope = await subscriber.call("subscribe", {"tenantId": "tenant-w"})
        no_tenant = await subscriber.call("subscribe", {"tenantId": 7})
        await subscriber.client.disconnect()
        assert no_scope == {
            "ok": False,
            "error": "token lacks the 'coherence:read' scope needed to subscribe to a tenant",
        }
        assert no_tenant["ok"] is False and "tenantId" in no_tenant["error"]

    asyncio.run(scenario())


def test_t0_message_is_echoed_to_the_room_with_its_t0(target):
    async def scenario() -> None:
        subscriber = await _subscribed(target, "tenant-t0")
        t0 = time.time() * 1000
        ack = await subscriber.call("t0", {"_t0": t0, "tenantId": "tenant-t0"})
        events = await subscriber.wait_for(1)
        await subscriber.client.disconnect()
        assert ack["ok"] is True
        assert [(event["id"], event["type"], event["_t0"]) for event in events] == [(ack["id"], "t0", t0)]

    asyncio.run(scenario())


def test_t0_needs_write_scope(target):
    async def scenario() -> None:
        subscriber = await _subscribed(target, "tenant-t0-ro", scopes=("coherence:read",))
        ack = await subscriber.call("t0", {"_t0": time.time() * 1000})
        await subscriber.client.disconnect()
        assert ack == {
            "ok": False,
            "error": "token lacks the 'coherence:write' scope needed to send t0 to a tenant",
        }

    asyncio.run(scenario())
