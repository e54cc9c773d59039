"""Fault injection, so tests can make every SLO fail on purpose.

Faults come from startup flags (the baseline) and can be changed while running through
`POST /admin/faults` (a partial update; `null` switches a fault off) and reset to the baseline
with `DELETE /admin/faults`. Latencies are distributions written as text:

- `"50"`: always 50 ms;
- `"uniform:10:80"`: uniform between 10 and 80 ms;
- `"normal:50:10"`: normal with mean 50 ms and standard deviation 10 ms, clamped at 0.

Two authorization faults let a test show the pipeline's authorization-under-load gate failing:
`cross_tenant_leak_rate` lets that share of requests for another tenant's data through (GraphQL
requests and Socket.IO subscriptions to another tenant's room), and
`cross_tenant_race_rate` does the same only while at least `RACE_MIN_INFLIGHT` requests are in
flight: a race that a check made one request at a time never sees.

Two limiter faults let a test show the overload gates failing (`tenant_limits`):
`limiter_queues` makes a tenant past its rate limit wait instead of being refused, and
`shed_with_503` refuses it with 503 (no Retry-After) instead of 429.
`cpu_burn_ms` (cost per request) spins the CPU that many ms on every admitted GraphQL request, so
a test can show the pipeline's cost gate catching a release that costs more CPU per request.

`write_latency_ms` is added before the signal is stored, so it shows in the write latency
and in the ingest pre-storage time (`Server-Timing: ingest`); `read_latency_ms` before the
read resolves; `fanout_delay_ms` before an event is emitted.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from verification_pipeline.errors import ConfigError, in_words

Operation = Literal["read", "write"]
# "Many in flight" for the race fault: well above what one client at a time makes (1), well
# below the seed's load (70 VUs).
RACE_MIN_INFLIGHT = 8


@dataclass(frozen=True, slots=True)
class LatencyDistribution:
    """An added delay in milliseconds drawn from a constant, uniform or normal distribution."""

    kind: Literal["constant", "uniform", "normal"]
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return max(0.0, rng.gauss(self.a, self.b))

    def __str__(self) -> str:
        if self.kind == "constant":
            return f"{self.a:g}"
        return f"{self.kind}:{self.a:g}:{self.b:g}"


def parse_latency(spec: object) -> LatencyDistribution | None:
    """`"50"`, `"uniform:10:80"` or `"normal:mean:sd"` (ms) as a distribution; `"0"`/None: no delay."""
    if spec is None or isinstance(spec, LatencyDistribution):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, (str, int, float)):
        # ValueError, not TypeError: pydantic turns only ValueError into a field error.
        raise ValueError("a latency is a number of ms, 'uniform:LOW:HIGH' or 'normal:MEAN:SD'")  # noqa: TRY004
    parts = str(spec).strip().split(":")
    try:
        numbers = [float(part) for part in parts[1:]] if len(parts) > 1 else [float(parts[0])]
    except ValueError:
        raise ValueError(
            f"{spec!r} is not a latency; write ms as '50', 'uniform:10:80' or 'normal:50:10'"
        ) from None
    if not all(math.isfinite(number) and number >= 0 for number in numbers):
        raise ValueError(f"{spec!r}: latencies are finite, non-negative milliseconds")
    if len(parts) == 1:
        return LatencyDistribution("constant", numbers[0]) if numbers[0] > 0 else None
    kind = parts[0].strip().lower()
    if kind not in ("uniform", "normal") or len(numbers) != 2:
        raise ValueError(f"{spec!r} is not a latency; write 'uniform:LOW:HIGH' or 'normal:MEAN:SD'")
    if kind == "uniform" and numbers[0] > numbers[1]:
        raise ValueError(f"{spec!r}: uniform needs LOW <= HIGH")
    return LatencyDistribution(kind, numbers[0], numbers[1])  # type: ignore[arg-type]


def _zero_when_null(value: object) -> object:
    return 0.0 if value is None else value


Latency = Annotated[
    LatencyDistribution | None,
    BeforeValidator(parse_latency),
    PlainSerializer(lambda value: None if value is None else str(value)),
]
Rate = Annotated[float, BeforeValidator(_zero_when_null), Field(ge=0.0, le=1.0)]


class FaultSettings(BaseModel):
    """The faults in force. Defaults: none, and no RPS limit."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    read_latency_ms: Latency = None
    write_latency_ms: Latency = None
    error_rate: Rate = 0.0
    graphql_error_rate: Rate = 0.0
    fanout_delay_ms: Latency = None
    drop_event_rate: Rate = 0.0
    rps_limit: Annotated[float | None, Field(gt=0)] = None
    cross_tenant_leak_rate: Rate = 0.0
    cross_tenant_race_rate: Rate = 0.0
    # the per-tenant limiter broken on purpose (tenant_limits): it queues, or it sheds with 503
    limiter_queues: bool = False
    shed_with_503: bool = False
    # cost per request (issue 22)
    cpu_burn_ms: Annotated[float, BeforeValidator(_zero_when_null), Field(ge=0.0, le=1000.0)] = 0.0

    @classmethod
    def parse(cls, values: dict[str, Any], *, source: str) -> FaultSettings:
        """Validated settings; a bad value is a ConfigError naming the field and what it accepts."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise ConfigError(in_words(first), source=source, field=field) from None

    def updated(self, changes: dict[str, Any], *, source: str) -> FaultSettings:
        """These settings with `changes` applied; keys not named keep their value."""
        return FaultSettings.parse({**self.model_dump(mode="json"), **changes}, source=source)

    @property
    def active(self) -> bool:
        """True when a fault other than the RPS limit is on (the limiter enforces that one)."""
        return any(getattr(self, name) for name in _INJECTED)


_INJECTED = (
    "read_latency_ms",
    "write_latency_ms",
    "error_rate",
    "graphql_error_rate",
    "fanout_delay_ms",
    "drop_event_rate",
    "cross_tenant_leak_rate",
    "cross_tenant_race_rate",
    "limiter_queues",
    "shed_with_503",
    "cpu_burn_ms",
)


class FaultInjector:
    """The target's current faults and the dice it rolls for them."""

    def __init__(self, baseline: FaultSettings, *, seed: int | None = None) -> None:
        self.baseline = baseline
        self.settings = baseline
        self._rng = random.Random(seed)
        self._active = baseline.active

    def replace(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._active = settings.active

    def reset(self) -> None:
        self.replace(self.baseline)

    def added_latency_ms(self, operation: Operation) -> float:
        if not self._active:
            return 0.0
        spec = self.settings.read_latency_ms if operation == "read" else self.settings.write_latency_ms
        return spec.sample(self._rng) if spec else 0.0

    def http_error(self) -> bool:
        return self._active and self._rng.random() < self.settings.error_rate

    def graphql_error(self) -> bool:
        return self._active and self._rng.random() < self.settings.graphql_error_rate

    def fanout_delay_ms(self) -> float:
        spec = self.settings.fanout_delay_ms if self._active else None
        return spec.sample(self._rng) if spec else 0.0

    def drop_event(self) -> bool:
        return self._active and self._rng.random() < self.settings.drop_event_rate

    def cross_tenant_leak(self, inflight: int) -> bool:
        """Whether this request may reach another tenant's data (a fault; never without one)."""
        if not self._active:
            return False
        rate = self.settings.cross_tenant_leak_rate
        if inflight >= RACE_MIN_INFLIGHT:
            rate = max(rate, self.settings.cross_tenant_race_rate)
        return rate > 0 and self._rng.random() < rate

    def limiter_queues(self) -> bool:
        """Whether a tenant past its limit waits for a turn instead of being refused (a fault)."""
        return self._active and self.settings.limiter_queues

    def shed_with_503(self) -> bool:
        """Whether a tenant past its limit is refused with 503 instead of 429 + Retry-After (a fault)."""
        return self._active and self.settings.shed_with_503

    def cpu_burn_s(self) -> float:
        """CPU seconds to spin on this request (the `cpu_burn_ms` fault; 0 without it)."""
        return self.settings.cpu_burn_ms / 1000.0 if self._active else 0.0
