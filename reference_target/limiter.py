"""Admission control: answer 429 with Retry-After instead of queueing without bound.

Two limits, checked before any work is done on a request:

- at most `max_inflight` GraphQL requests in the server at once. This is what keeps memory
  and latency bounded when clients outnumber capacity: the seed's profile keeps 70 requests
  in flight (50 read + 20 write VUs), so the default of 100 serves it, while twice that load
  gets 429s rather than a growing queue;
- at most `rps_limit` requests per second (token bucket holding one second's worth), when set.

A refusal is answered after `REFUSAL_PACING_S`, not at once: a 429 costs the server almost
as much as an answer (the syscalls dominate), and load generators ignore Retry-After and retry
at once, so instant refusals would eat the CPU the admitted requests need (measured: at twice
the seed's load, 60 % of answers were 429 and throughput for the admitted ones fell by two
thirds; paced, about 5 % are 429 and the admitted ones keep most of their throughput).

Admitted requests then take their turn (`TurnGate`), a few per event-loop turn.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

REFUSAL_PACING_S = 0.25


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was not admitted, and when the client may try again (whole seconds)."""

    kind: Literal["overloaded", "rate_limited"]
    retry_after_s: int
    message: str
    status: int = 429
    """429 with Retry-After; a fault (`shed_with_503`) answers 503 without one."""


class AdmissionControl:
    """Counts requests in flight and spends rate tokens; one instance per server process."""

    def __init__(self, *, max_inflight: int, rps_limit: float | None) -> None:
        self.max_inflight = max_inflight
        self.inflight = 0
        self.set_rps_limit(rps_limit)

    def set_rps_limit(self, rps_limit: float | None) -> None:
        self.rps_limit = rps_limit
        self._capacity = max(1.0, rps_limit) if rps_limit else 0.0
        self._tokens = self._capacity
        self._refilled_at = time.monotonic()

    def admit(self) -> Refusal | None:
        """None and one more request in flight, or the refusal to answer with."""
        if self.inflight >= self.max_inflight:
            return Refusal(
                "overloaded",
                1,
                f"server busy: {self.inflight} requests in flight (limit {self.max_inflight}); retry later",
            )
        if self.rps_limit:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._refilled_at) * self.rps_limit)
            self._refilled_at = now
            if self._tokens < 1.0:
                wait_s = (1.0 - self._tokens) / self.rps_limit
                return Refusal(
                    "rate_limited",
                    max(1, math.ceil(wait_s)),
                    f"rate limit of {self.rps_limit:g} requests per second exceeded; retry later",
                )
            self._tokens -= 1.0
        self.inflight += 1
        return None

    def release(self) -> None:
        self.inflight -= 1


class TurnGate:
    """Lets at most `per_turn` admitted requests run per event-loop turn, first come first served.

    Under saturation uvicorn hands the app every request that arrived since the last turn at
    once. Run them all and the turn lasts as long as all of them, and every Socket.IO message
    (a subscriber's `t0`, an event on its way out) waits that long at each of its hops through
    the loop. A few requests per turn keep turns short, so fan-out stays fast under HTTP load,
    with the same HTTP throughput and order. Requests waiting here are what makes
    `AdmissionControl.inflight` count the queue and not just the one request running.
    """

    def __init__(self, per_turn: int = 8) -> None:
        self.per_turn = per_turn
        self._granted = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._next_turn_scheduled = False

    async def wait_turn(self) -> None:
        if self._granted < self.per_turn and not self._waiting:
            self._granted += 1
            self._schedule_next_turn()
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        self._schedule_next_turn()
        await turn

    def _schedule_next_turn(self) -> None:
        if not self._next_turn_scheduled:
            self._next_turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._next_turn_scheduled = False
        self._granted = 0
        while self._waiting and self._granted < self.per_turn:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                self._granted += 1
        if self._waiting or self._granted:
            self._schedule_next_turn()
