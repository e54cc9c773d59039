"""Per-tenant rate limits: each tenant's share of the service, shed with 429 + Retry-After past it.

Every tenant may send `rps_limit` GraphQL requests per second (a token bucket per tenant
holding one second's worth); past it the request is refused before any work is done, and the
answer says when to come back (`Retry-After`, whole seconds). The default is the limit the
pipeline's packaged `slos.yaml` declares (`cost_controls.tenant_rps_limit`), so the target
started with no flags is the service that promise describes (tests/overload checks the two agree).

Unmetered tenants (`--unmetered-tenant`, by default the seed's `tenant-123`) have no per-tenant
limit: the seed's SLO load runs as that one tenant at 70 closed-model VUs without think time,
thousands of requests a second, standing for the whole service's traffic rather than one
tenant's share; the global limits of `limiter.AdmissionControl` still apply to it.

The tenant is read from the verified token, so a forged token cannot spend another tenant's
share; a request whose token does not verify passes here and gets its 401 later. That costs a
second HMAC check per request (a few microseconds), which keeps this module outside the hot
path's code. Buckets are kept for at most `max_tenants` tenants (least recently seen dropped).

Two faults (`faults.FaultSettings`) break the promise on purpose: `limiter_queues` makes a tenant
past its limit wait for its turn instead of being refused (an unbounded queue: latency grows
for as long as the overload lasts), `shed_with_503` refuses with 503 and no Retry-After.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line reads the defaults below without loading asyncio, jwt or pydantic
    from reference_target.faults import FaultInjector
    from reference_target.limiter import Refusal
    from reference_target.tokens import TokenVerifier

DEFAULT_TENANT_RPS_LIMIT = 100.0
DEFAULT_UNMETERED_TENANTS = ("tenant-123",)


VERIFIED_CLAIMS = "coherence.verified_claims"
"""The ASGI scope key where the limiter leaves the claims it verified (the token cache counts one lookup)."""


class TenantLimiter:
    """One token bucket per tenant; `admit` answers None (go on) or the refusal to answer with."""

    def __init__(
        self,
        verifier: TokenVerifier,
        faults: FaultInjector,
        *,
        rps_limit: float | None,
        unmetered: tuple[str, ...] = DEFAULT_UNMETERED_TENANTS,
        max_tenants: int = 10_000,
    ) -> None:
        import asyncio

        from reference_target.limiter import Refusal
        from reference_target.tokens import TokenRejected

        self._sleep, self._refusal, self._rejected = asyncio.sleep, Refusal, TokenRejected
        self._verifier = verifier
        self._faults = faults
        self.rps_limit = rps_limit if rps_limit and rps_limit > 0 else None
        self.unmetered = frozenset(unmetered)
        self._max_tenants = max_tenants
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # tenant -> [tokens, refilled_at]

    async def admit(self, scope: dict) -> Refusal | None:
        """For the ASGI request `scope`: None to go on (after a wait, under the queueing fault) or a refusal."""
        if self.rps_limit is None:
            return None
        authorization = next((value for name, value in scope["headers"] if name == b"authorization"), None)
        tenant = self._tenant(authorization, scope)
        if tenant is None or tenant in self.unmetered:
            return None
        rate = self.rps_limit
        bucket = self._bucket(tenant)
        now = time.monotonic()
        bucket[0] = min(max(1.0, rate), bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return None
        wait_s = (1.0 - bucket[0]) / rate
        if self._faults.limiter_queues():
            # the fault: wait for a turn instead of refusing; the debt makes the queue unbounded
            bucket[0] -= 1.0
            await self._sleep(wait_s)
            return None
        message = f"tenant {tenant!r} exceeded its limit of {rate:g} requests per second; retry later"
        if self._faults.shed_with_503():
            return self._refusal("rate_limited", 0, message, status=503)
        return self._refusal("rate_limited", max(1, math.ceil(wait_s)), message)

    def _tenant(self, authorization: bytes | None, scope: dict) -> str | None:
        if not authorization or authorization[:7].lower() != b"bearer ":
            return None
        try:
            claims = self._verifier.verify(authorization[7:].strip().decode("latin-1"))
        except self._rejected:
            return None
        scope[VERIFIED_CLAIMS] = claims  # the request's handler uses them: one token lookup per request
        return claims.tenant

    def _bucket(self, tenant: str) -> list[float]:
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = [max(1.0, self.rps_limit or 1.0), time.monotonic()]
            self._buckets[tenant] = bucket
            if len(self._buckets) > self._max_tenants:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(tenant)
        return bucket
