"""Publish coherence signals through the GraphQL mutation, as the seed's script does.

Each signal's `ts` is the publish's `_t0`: the target parses it and echoes it on the event, and
latency is measured from it. It is taken just before the request leaves, as in the seed, so
the figure covers the whole path from publish to arrival.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from verification_pipeline.errors import TargetError
from verification_pipeline.fanout.accounting import Publish
from verification_pipeline.fanout.redact import redact_token

log = logging.getLogger(__name__)

PUBLISH_MUTATION = "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }"
# The seed's cadence: the next publish starts 10 ms after the previous one answered.
SEED_PAUSE_S = 0.010
# GraphQL error codes (and HTTP statuses) that mean "this token will never be accepted":
# carrying on would only fill the report with the same refusal.
REFUSAL_CODES = {"UNAUTHENTICATED", "FORBIDDEN"}
REFUSAL_STATUSES = {401, 403}


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
) -> PublishOutcome:
    """Send `events` signals, at the seed's cadence (`rate` None) or `rate` per second.

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
        raise TargetError(
            f"{url}: cannot reach the GraphQL endpoint: {redact_token(str(exc), token)}"
        ) from None
    if response.status_code in REFUSAL_STATUSES:
        raise TargetError(
            f"{url}: the target refused the token (HTTP {response.status_code}: {_reason(response, token)})",
            hint="mint a token with scopes coherence:read and coherence:write for this tenant",
        )


async def _publish(client: httpx.AsyncClient, url: str, token: str, tenant: str) -> Publish | str:
    """One publish: the accepted event, or a sentence saying why it failed.

    Raises TargetError when the target cannot be reached or refuses the token, since no
    later publish can succeed either.
    """
    sent_at = datetime.now(UTC)
    body = {
        "query": PUBLISH_MUTATION,
        "variables": {
            "input": {
                "tenantId": tenant,
                "type": "subtest",
                "value": random.random(),
                "source": "fanout-probe",
                "ts": sent_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            }
        },
    }
    try:
        response = await client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.TimeoutException:
        return f"publish timed out after {client.timeout.read} s"
    except httpx.TransportError as exc:
        raise TargetError(
            f"{url}: cannot reach the GraphQL endpoint: {redact_token(str(exc), token)}"
        ) from None
    if response.status_code in REFUSAL_STATUSES:
        raise TargetError(
            f"{url}: the target refused the token (HTTP {response.status_code}: {_reason(response, token)})",
            hint="mint a token with scope coherence:write for this tenant",
        )
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
    return Publish(event_id, sent_at.timestamp() * 1000.0)


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
