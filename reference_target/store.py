"""In-process storage of coherence signals and per-tenant scores, bounded in memory.

At most `max_tenants` tenants (least recently used evicted first) and the newest
`max_signals_per_tenant` signals of each. A tenant's score is an exponentially weighted mean
of its signal values (the reference target's toy model of "coherence"); its status bands
assume values in [0, 1], as the seed's clients send. Single-threaded by design: the server
runs one event loop, so no locks.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass

SMOOTHING = 0.2
COHERENT_AT = 0.5
DEGRADED_AT = 0.2


@dataclass(frozen=True, slots=True)
class CoherenceEvent:
    """One event for a tenant's subscribers: a stored signal, or the echo of a client's `t0`."""

    id: str
    seq: int
    tenant_id: str
    type: str
    value: float | None
    source: str
    ts: str
    t0_ms: float

    def payload(self, emitted_at_ms: float) -> dict:
        """The `coherenceEvents` payload as Socket.IO clients receive it."""
        return {
            "id": self.id,
            "seq": self.seq,
            "tenantId": self.tenant_id,
            "type": self.type,
            "value": self.value,
            "source": self.source,
            "ts": self.ts,
            "_t0": self.t0_ms,
            "emittedAt": emitted_at_ms,
        }


@dataclass(frozen=True, slots=True)
class TenantCoherence:
    """What `tenantCoherence` answers."""

    tenant_id: str
    score: float | None
    status: str
    updated_at: str | None
    signal_count: int


class _Tenant:
    __slots__ = ("score", "seq", "signal_count", "signals", "updated_at")

    def __init__(self, max_signals: int) -> None:
        self.signals: deque[CoherenceEvent] = deque(maxlen=max_signals)
        self.seq = 0
        self.score: float | None = None
        self.updated_at = 0.0
        self.signal_count = 0


class CoherenceStore:
    """Signals and scores per tenant; every method is O(1)."""

    def __init__(self, *, max_tenants: int = 10_000, max_signals_per_tenant: int = 1_000) -> None:
        self.max_tenants = max_tenants
        self.max_signals_per_tenant = max_signals_per_tenant
        self._tenants: OrderedDict[str, _Tenant] = OrderedDict()
        self.signals_held = 0

    @property
    def tenants_held(self) -> int:
        return len(self._tenants)

    def append(
        self, tenant_id: str, type: str, value: float, source: str, ts: str, t0_ms: float
    ) -> CoherenceEvent:
        """Store a signal, update the tenant's score, and return it as the event to emit."""
        tenant = self._tenant(tenant_id)
        event = self._event(tenant, tenant_id, type, value, source, ts, t0_ms)
        if len(tenant.signals) == tenant.signals.maxlen:
            self.signals_held -= 1
        tenant.signals.append(event)
        self.signals_held += 1
        tenant.signal_count += 1
        tenant.score = value if tenant.score is None else tenant.score + SMOOTHING * (value - tenant.score)
        tenant.updated_at = time.time()
        return event

    def echo(self, tenant_id: str, ts: str, t0_ms: float) -> CoherenceEvent:
        """An event for a client's `t0` message: numbered like signals, not stored."""
        return self._event(self._tenant(tenant_id), tenant_id, "t0", None, "t0", ts, t0_ms)

    def coherence(self, tenant_id: str) -> TenantCoherence:
        tenant = self._tenants.get(tenant_id)
        if tenant is None or tenant.score is None:
            return TenantCoherence(tenant_id, None, "NO_DATA", None, 0)
        self._tenants.move_to_end(tenant_id)
        return TenantCoherence(
            tenant_id, tenant.score, _status(tenant.score), iso_utc(tenant.updated_at), tenant.signal_count
        )

    def _tenant(self, tenant_id: str) -> _Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant(self.max_signals_per_tenant)
            if len(self._tenants) > self.max_tenants:
                _, evicted = self._tenants.popitem(last=False)
                self.signals_held -= len(evicted.signals)
        else:
            self._tenants.move_to_end(tenant_id)
        return tenant

    @staticmethod
    def _event(
        tenant: _Tenant, tenant_id: str, type: str, value: float | None, source: str, ts: str, t0_ms: float
    ) -> CoherenceEvent:
        tenant.seq += 1
        return CoherenceEvent(str(uuid.uuid4()), tenant.seq, tenant_id, type, value, source, ts, t0_ms)


def _status(score: float) -> str:
    if score >= COHERENT_AT:
        return "COHERENT"
    if score >= DEGRADED_AT:
        return "DEGRADED"
    return "INCOHERENT"


def iso_utc(epoch_s: float) -> str:
    """`2025-01-31T12:00:00.123Z` for an epoch time in seconds."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))
    return f"{seconds}.{int(epoch_s * 1000) % 1000:03d}Z"
