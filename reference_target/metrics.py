"""Prometheus metrics of the reference target, served at GET /metrics.

These names are the defaults the ops-artifacts generator writes its SLIs and alerts against:

| metric | type | labels | what |
| --- | --- | --- | --- |
| `coherence_request_duration_seconds` | histogram | `operation` = read, write, unknown | GraphQL request time in the server, every outcome |
| `coherence_requests_total` | counter | `operation`, `code` (HTTP status) | GraphQL requests answered |
| `coherence_request_errors_total` | counter | `operation`, `kind` | failed requests by cause (kinds below) |
| `coherence_ingest_duration_seconds` | histogram | | write path, request arrival to just before storage (the `Server-Timing: ingest` value) |
| `coherence_fanout_latency_seconds` | histogram | | publish arrival (or `t0` message) to the event handed to every subscriber |
| `coherence_events_emitted_total` | counter | | `coherenceEvents` emitted to a tenant room |
| `coherence_events_dropped_total` | counter | `reason` = fault, slow_subscriber | an event not emitted at all (fault), or one subscriber's copy skipped because 256 events already wait for it |
| `coherence_inflight_requests` | gauge | | GraphQL requests in the server now |
| `coherence_socketio_connections` | gauge | | connected Socket.IO clients |
| `coherence_store_tenants` / `coherence_store_signals` | gauge | | what the bounded store holds |
| `coherence_token_cache_lookups_total` | counter | `result` = hit, miss | token cache lookups (the cost evidence's cache hit ratio) |

plus the client library's `process_*` (resident memory, CPU) and `python_gc_*` series.

`operation` is `unknown` when a request failed before its operation was known (bad JSON,
missing token). Error kinds: `unauthenticated` (401), `forbidden` (403), `bad_request` (400),
`payload_too_large` (413), `overloaded` and `rate_limited` (429), `injected` (fault: HTTP 500),
`injected_graphql` (fault: GraphQL error under 200), `internal` (500, a bug).
Every latency histogram has the buckets 0.1, 0.25, 0.35 and 0.7 s, the SLO thresholds, so
SLIs are exact bucket ratios.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.5, 0.7, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
OPERATIONS = ("read", "write", "unknown")
ERROR_KINDS = (
    "unauthenticated",
    "forbidden",
    "bad_request",
    "payload_too_large",
    "overloaded",
    "rate_limited",
    "injected",
    "injected_graphql",
    "internal",
)
DROP_REASONS = ("fault", "slow_subscriber")
CONTENT_TYPE = CONTENT_TYPE_LATEST


class TargetMetrics:
    """The target's metrics in their own registry, with label children bound once (hot path)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        # registered in this order, which is the order /metrics lists them in
        self._register_requests()
        self._register_events()
        self._register_gauges()

    def _register_requests(self) -> None:
        """The GraphQL requests: time, answers and errors, with every operation's children bound."""
        duration = Histogram(
            "coherence_request_duration_seconds",
            "GraphQL request time in the server, by operation, every outcome.",
            ["operation"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._requests = Counter(
            "coherence_requests_total",
            "GraphQL requests answered, by operation and HTTP status.",
            ["operation", "code"],
            registry=self.registry,
        )
        errors = Counter(
            "coherence_request_errors_total",
            "Failed GraphQL requests, by operation and cause.",
            ["operation", "kind"],
            registry=self.registry,
        )
        self._duration = {operation: duration.labels(operation) for operation in OPERATIONS}
        self._errors = {
            (operation, kind): errors.labels(operation, kind)
            for operation in OPERATIONS
            for kind in ERROR_KINDS
        }
        self._request_children: dict[tuple[str, int], Counter] = {}

    def _register_events(self) -> None:
        """The write path and the fan-out: ingest and delivery time, events emitted and dropped."""
        self.ingest = Histogram(
            "coherence_ingest_duration_seconds",
            "Write path: request arrival to just before the signal is stored.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.fanout = Histogram(
            "coherence_fanout_latency_seconds",
            "Publish arrival to the event handed to every subscriber of the tenant.",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.events_emitted = Counter(
            "coherence_events_emitted",
            "coherenceEvents emitted to a tenant room.",
            registry=self.registry,
        )
        dropped = Counter(
            "coherence_events_dropped",
            "coherenceEvents not delivered: whole events (fault) or one subscriber's copy (slow_subscriber).",
            ["reason"],
            registry=self.registry,
        )
        self.events_dropped = {reason: dropped.labels(reason) for reason in DROP_REASONS}

    def _register_gauges(self) -> None:
        """What the server holds now; the app sets the functions that read them (`create_app`)."""
        self.inflight = Gauge(
            "coherence_inflight_requests", "GraphQL requests in the server now.", registry=self.registry
        )
        self.connections = Gauge(
            "coherence_socketio_connections", "Connected Socket.IO clients.", registry=self.registry
        )
        self.store_tenants = Gauge(
            "coherence_store_tenants", "Tenants held by the bounded store.", registry=self.registry
        )
        self.store_signals = Gauge(
            "coherence_store_signals", "Signals held by the bounded store.", registry=self.registry
        )

    def observe_request(self, operation: str, status: int, seconds: float, error_kind: str | None) -> None:
        self._duration[operation].observe(seconds)
        child = self._request_children.get((operation, status))
        if child is None:
            child = self._request_children[(operation, status)] = self._requests.labels(
                operation, str(status)
            )
        child.inc()
        if error_kind is not None:
            self._errors[(operation, error_kind)].inc()

    def count_cache_lookups(self, lookups: Callable[[], tuple[int, int]]) -> None:
        """Serve `coherence_token_cache_lookups_total{result}` from `lookups()` = (hits, misses)."""
        self.registry.register(_CacheLookups(lookups))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _CacheLookups:
    """A collector reading the token cache's own counts at scrape time (no work on the hot path)."""

    def __init__(self, lookups: Callable[[], tuple[int, int]]) -> None:
        self._lookups = lookups

    def collect(self) -> Iterator[CounterMetricFamily]:
        hits, misses = self._lookups()
        family = CounterMetricFamily(
            "coherence_token_cache_lookups", "Token cache lookups, by result.", labels=["result"]
        )
        family.add_metric(["hit"], hits)
        family.add_metric(["miss"], misses)
        yield family
