"""What the ops generators need to know: the SLOs, and where the service's metrics live.

The generators take this small plain input rather than the `slos.yaml` model itself: the spec
speaks in measured units (a p95 in ms, an error rate in percent), Prometheus in objectives over
a period and thresholds in seconds. `from_spec` translates one into the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from prometheus_client.utils import floatToGoString
from pydantic import BaseModel, ConfigDict, field_validator

from verification_pipeline.config_files import load_yaml, validate
from verification_pipeline.errors import ConfigError
from verification_pipeline.slo.spec import SloSpec

Indicator = Literal["request_latency", "fanout_latency", "ingest_latency", "request_errors"]
"""Which series an SLO is measured on: a latency histogram, or the request/error counters."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^[1-9][0-9]*[mhdw]$")
_MATCHER = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$')


@dataclass(frozen=True)
class SLOTarget:
    """One SLO as Prometheus sees it.

    `objective` is the share of good events: 0.95 for "p95 <= threshold" (at most 5 % of
    requests may be slower than the threshold), 0.999 for "error rate <= 0.1 %".
    """

    name: str
    title: str
    indicator: Indicator
    objective: float
    threshold_seconds: float | None = None
    operation: str | None = None
    period: str = "30d"

    def __post_init__(self) -> None:
        where = f"SLO {self.name!r}"
        if not _NAME.match(self.name):
            raise ConfigError(f"{where}: name must be lower-case letters, digits and '_'", field="name")
        if not 0.0 < self.objective < 1.0:
            raise ConfigError(
                f"{where}: objective {self.objective} must lie strictly between 0 and 1",
                field="objective",
            )
        if self.is_latency and (self.threshold_seconds is None or self.threshold_seconds <= 0):
            raise ConfigError(
                f"{where}: a latency SLO needs a positive threshold_seconds", field="threshold_seconds"
            )
        if not self.is_latency and self.threshold_seconds is not None:
            raise ConfigError(
                f"{where}: an error-rate SLO has no latency threshold", field="threshold_seconds"
            )
        if not _DURATION.match(self.period):
            raise ConfigError(
                f"{where}: period {self.period!r} is not a Prometheus duration like '30d'",
                field="period",
            )

    @property
    def is_latency(self) -> bool:
        return self.indicator != "request_errors"

    @property
    def error_budget(self) -> float:
        return 1.0 - self.objective


class MetricsConfig(BaseModel):
    """Names and labels of the service's series; the defaults are the reference target's.

    Matchers are PromQL label matchers (`job="coherence"`, `code=~"5.."`); `selector` is added
    to every query so one Prometheus can hold several services.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = "coherence"
    selector: tuple[str, ...] = ()
    operation_label: str = "operation"
    request_duration: str = "coherence_request_duration_seconds"
    fanout_latency: str = "coherence_fanout_latency_seconds"
    ingest_duration: str = "coherence_ingest_duration_seconds"
    requests_total: str = "coherence_requests_total"
    requests_matchers: tuple[str, ...] = ()
    errors_total: str = "coherence_request_errors_total"
    errors_matchers: tuple[str, ...] = ()

    @field_validator("selector", "requests_matchers", "errors_matchers")
    @classmethod
    def _matchers_are_promql(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for matcher in value:
            if not _MATCHER.match(matcher):
                raise ValueError(f'{matcher!r} is not a PromQL label matcher like job="coherence"')
        return value

    def histogram(self, slo: SLOTarget) -> str:
        """The histogram family (without `_bucket`/`_count`) a latency SLO is measured on."""
        return {
            "request_latency": self.request_duration,
            "fanout_latency": self.fanout_latency,
            "ingest_latency": self.ingest_duration,
        }[slo.indicator]

    def matchers(self, slo: SLOTarget, extra: Iterable[str] = ()) -> str:
        """`{...}` for one SLO's series (the global selector, the operation, then `extra`), or ""."""
        parts = list(self.selector)
        if slo.operation is not None and slo.indicator in ("request_latency", "request_errors"):
            parts.append(f'{self.operation_label}="{slo.operation}"')
        parts.extend(extra)
        return "{" + ",".join(parts) + "}" if parts else ""


def load_metrics_config(data: bytes, *, source: str) -> MetricsConfig:
    """Read a YAML mapping of `MetricsConfig` fields; unknown keys and bad matchers are refused."""
    document = load_yaml(data, source=source) or {}
    if not isinstance(document, dict):
        raise ConfigError("expected a mapping of metric names and labels", source=source)
    return validate(MetricsConfig, document, source=source)


def bucket_label(seconds: float) -> str:
    """The `le` label value a client library writes for a bucket bound (0.35 -> "0.35").

    prometheus-client's formatting, which is also what Prometheus 3 normalizes `le` to.
    """
    return floatToGoString(seconds)


_LATENCY_INDICATORS: dict[str, Indicator] = {
    "read": "request_latency",
    "write": "request_latency",
    "all": "request_latency",
    "fanout": "fanout_latency",
    "ingest": "ingest_latency",
}
_SOURCE_WORDS = {
    "read": "Read",
    "write": "Write",
    "all": "Request",
    "fanout": "Sub fan-out",
    "ingest": "Ingest",
}


def from_spec(spec: SloSpec, *, source: str | None = None) -> list[SLOTarget]:
    """The SLOs of `slos.yaml` as Prometheus sees them.

    A quantile SLO "p95 <= 350 ms" becomes "95 % of requests within 0.35 s"; a rate SLO
    "error rate <= 0.1 %" becomes "99.9 % of requests without an error".
    """
    targets = []
    for index, slo in enumerate(spec.slos):
        operation = slo.source if slo.source in ("read", "write") else None
        if slo.metric == "quantile":
            assert slo.quantile is not None  # the spec requires it for quantile SLOs
            targets.append(
                SLOTarget(
                    name=slo.name,
                    title=f"{_SOURCE_WORDS[slo.source]} p{slo.quantile * 100:g}",
                    indicator=_LATENCY_INDICATORS[slo.source],
                    objective=slo.quantile,
                    threshold_seconds=slo.threshold / 1000.0,
                    operation=operation,
                )
            )
        else:
            if slo.threshold <= 0:
                raise ConfigError(
                    "an error-rate threshold of 0 % leaves no error budget to alert on",
                    source=source,
                    field=f"slos[{index}].threshold",
                    hint="set the largest error rate you accept, e.g. 0.1",
                )
            targets.append(
                SLOTarget(
                    name=slo.name,
                    title="Error rate" if operation is None else f"{_SOURCE_WORDS[slo.source]} error rate",
                    indicator="request_errors",
                    objective=1.0 - slo.threshold / 100.0,
                    operation=operation,
                )
            )
    return targets
