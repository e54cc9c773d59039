"""Forbidden requests, sent while the service is under load, and how each was answered.

Kinds (`Kind`): another tenant's data read with our token, a write to another tenant, a write
with a read-only token (missing scope), an expired token, a forged one (signed with a key made
up here), and a residency violation where the service declares a residency rule. Each request
is classified by what came back: `refused` (401/403, or a GraphQL FORBIDDEN/UNAUTHENTICATED
error), `admitted` (the data or the mutation's result came back: a leak), `shed` (429),
`error` (5xx, a timeout, a broken connection: not shedding, not a refusal either), `other`.

The rows are the raw evidence (one per attempt, in time order); they are never mixed into the
SLO load's samples, so the SLO latency and error figures do not include them.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import polars as pl

from verification_pipeline.authz.schema import ROWS_SCHEMA
from verification_pipeline.authz.tokens import (
    EXPIRED_ENV,
    READ_ONLY_ENV,
    AuthzTokens,
    forge,
    tenant_claim,
)


class Kind(StrEnum):
    CROSS_TENANT_READ = "cross_tenant_read"
    CROSS_TENANT_WRITE = "cross_tenant_write"
    MISSING_SCOPE = "missing_scope"
    EXPIRED = "expired"
    FORGED = "forged"
    RESIDENCY = "residency"
    CROSS_TENANT_SUBSCRIBE = "cross_tenant_subscribe"
    """A fan-out subscriber asking for another tenant's room (authz/subscribers.py)."""


class Outcome(StrEnum):
    REFUSED = "refused"
    ADMITTED = "admitted"
    SHED = "shed"
    ERROR = "error"
    OTHER = "other"


READ_QUERY = (
    "query Coherence($tenantId: ID!) { tenantCoherence(tenantId: $tenantId) { tenantId score status } }"
)
WRITE_QUERY = (
    "mutation Publish($input: PublishCoherenceSignalInput!) { publishCoherenceSignal(input: $input) }"
)
_REFUSAL_CODES = frozenset({"FORBIDDEN", "UNAUTHENTICATED", "UNAUTHORIZED"})
_BODY_CAP = 64 * 1024
RESIDENCY_ENV = "VP_TARGET_RESIDENCY"  # an answer to a forbidden request is an error message, not a data set


@dataclass(frozen=True)
class Attempt:
    """One kind of forbidden request: its token, its GraphQL body, the field that holds a leak."""

    kind: Kind
    token: str = field(repr=False)
    body: dict[str, Any]
    field: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AttemptPlan:
    attempts: tuple[Attempt, ...]
    not_tried: dict[str, str]
    """Kind -> why it was not tried (a token not given, no residency rule declared)."""
    other_tenant: str


@dataclass(frozen=True)
class Residency:
    """A residency rule the service declares: a request naming `region` in `header` must be refused."""

    header: str
    region: str

    @classmethod
    def parse(cls, text: str) -> Residency | None:
        """`HEADER=REGION` (VP_TARGET_RESIDENCY), e.g. `X-Data-Region=us-east-1`; None when empty."""
        if not text:
            return None
        header, _, region = text.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header.strip()) or not re.fullmatch(
            r"[A-Za-z0-9._-]{1,64}", region.strip()
        ):
            raise ValueError("write HEADER=REGION, e.g. X-Data-Region=us-east-1")
        return cls(header.strip(), region.strip())


def plan_attempts(tokens: AuthzTokens, tenant: str, residency: Residency | None = None) -> AttemptPlan:
    """The attempts the given tokens allow; every other kind is listed as not tried, with why."""
    other = tenant_claim(tokens.neighbour) if tokens.neighbour else None
    if not other or other == tenant:
        other = f"{tenant}-authz-other"  # a tenant the main token does not name
    own, theirs = _read(tenant), _read(other)
    attempts = [
        Attempt(Kind.CROSS_TENANT_READ, tokens.main, theirs, "tenantCoherence"),
        Attempt(Kind.CROSS_TENANT_WRITE, tokens.main, _write(other), "publishCoherenceSignal"),
        Attempt(Kind.FORGED, forge(tokens.main), own, "tenantCoherence"),
    ]
    not_tried: dict[str, str] = {}
    if tokens.read_only:
        attempts.append(
            Attempt(Kind.MISSING_SCOPE, tokens.read_only, _write(tenant), "publishCoherenceSignal")
        )
    else:
        not_tried[Kind.MISSING_SCOPE] = f"{READ_ONLY_ENV} not given"
    if tokens.expired:
        attempts.append(Attempt(Kind.EXPIRED, tokens.expired, own, "tenantCoherence"))
    else:
        not_tried[Kind.EXPIRED] = f"{EXPIRED_ENV} not given"
    if residency is not None:
        attempts.append(
            Attempt(
                Kind.RESIDENCY, tokens.main, own, "tenantCoherence", ((residency.header, residency.region),)
            )
        )
    else:
        not_tried[Kind.RESIDENCY] = f"the service declares no residency rule ({RESIDENCY_ENV} not given)"
    return AttemptPlan(tuple(sorted(attempts, key=lambda a: list(Kind).index(a.kind))), not_tried, other)


def _read(tenant: str) -> dict[str, Any]:
    return {"query": READ_QUERY, "variables": {"tenantId": tenant}, "operationName": "Coherence"}


def _write(tenant: str) -> dict[str, Any]:
    signal = {"tenantId": tenant, "type": "authz-probe", "value": 0.5, "source": "verification-pipeline"}
    return {"query": WRITE_QUERY, "variables": {"input": {**signal, "ts": "2025-01-01T00:00:00.000Z"}}}


def classify(status: int | None, body: bytes, data_field: str) -> Outcome:
    """What an answer to a forbidden request means (see the module docstring)."""
    if status is None or status >= 500:
        return Outcome.ERROR
    if status in (401, 403):
        return Outcome.REFUSED
    if status == 429:
        return Outcome.SHED
    if status != 200:
        return Outcome.OTHER
    try:
        document = json.loads(body)
    except ValueError:
        return Outcome.OTHER
    if not isinstance(document, dict):
        return Outcome.OTHER
    data = document.get("data")
    if isinstance(data, dict) and data.get(data_field) is not None:
        return Outcome.ADMITTED
    errors = document.get("errors")
    codes = {(error.get("extensions") or {}).get("code") for error in errors or [] if isinstance(error, dict)}
    return Outcome.REFUSED if codes & _REFUSAL_CODES else Outcome.OTHER


@dataclass(frozen=True)
class ProbeSettings:
    concurrency: int = 4
    """Forbidden requests in flight at once."""
    rate: float = 0.0
    """Forbidden requests per second over all workers; 0: as fast as `concurrency` allows."""
    timeout_s: float = 10.0


def run_probe(
    graphql_url: str,
    plan: AttemptPlan,
    settings: ProbeSettings,
    *,
    total: int | None = None,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
) -> pl.DataFrame:
    """Send the plan's attempts round-robin until `total` were sent, `duration_s` passed or `stop` is set."""
    if not plan.attempts:
        return pl.DataFrame(schema=ROWS_SCHEMA)
    if total is None and duration_s is None and stop is None:
        raise ValueError("give total, duration_s or stop: the probe needs an end")
    rows = asyncio.run(_probe(graphql_url, plan.attempts, settings, total, duration_s, stop))
    rows.sort(key=lambda row: row["seq"])
    return pl.DataFrame(rows, schema=ROWS_SCHEMA, orient="row")


async def _probe(
    url: str,
    attempts: tuple[Attempt, ...],
    settings: ProbeSettings,
    total: int | None,
    duration_s: float | None,
    stop: threading.Event | None,
) -> list[dict[str, Any]]:
    started = time.monotonic()
    deadline = started + duration_s if duration_s is not None else None
    counter = iter(range(total if total is not None else 1 << 62))
    rows: list[dict[str, Any]] = []
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )

    async def worker(client: httpx.AsyncClient) -> None:
        for seq in counter:
            if (deadline is not None and time.monotonic() >= deadline) or (
                stop is not None and stop.is_set()
            ):
                return
            if settings.rate > 0:
                # an open schedule: attempt `seq` is due at seq / rate, however slow the answers are
                delay = started + seq / settings.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            attempt = attempts[seq % len(attempts)]
            rows.append(await _send(client, url, attempt, seq))

    async with httpx.AsyncClient(timeout=settings.timeout_s, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(settings.concurrency)))
    return rows


async def _send(client: httpx.AsyncClient, url: str, attempt: Attempt, seq: int) -> dict[str, Any]:
    ts = time.time()
    t0 = time.perf_counter()
    status: int | None
    try:
        response = await client.post(
            url,
            json=attempt.body,
            headers={"Authorization": f"Bearer {attempt.token}", **dict(attempt.headers)},
        )
        status, body = response.status_code, response.content[:_BODY_CAP]
    except httpx.HTTPError:
        status, body = None, b""
    latency_ms = (time.perf_counter() - t0) * 1000.0
    outcome = classify(status, body, attempt.field)
    return {
        "seq": seq,
        "ts": ts,
        "kind": attempt.kind.value,
        "status": status or 0,
        "outcome": outcome.value,
        "latency_ms": latency_ms,
    }
