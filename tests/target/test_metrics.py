"""/metrics: the documented names, the SLO buckets, and counters that move with traffic."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.target.helpers import read, write

SLO_BUCKETS = {"0.1", "0.25", "0.35", "0.7"}


def _samples(target) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(target.metrics_text())
        for sample in family.samples
    }


def _buckets(samples, name: str, **labels: str) -> set[str]:
    return {
        dict(key)["le"]
        for (sample, key) in samples
        if sample == f"{name}_bucket" and all(dict(key).get(k) == v for k, v in labels.items())
    }


def test_latency_histograms_have_the_slo_buckets(target):
    write(target.graphql_url, target.token())
    samples = _samples(target)
    for operation in ("read", "write"):
        assert _buckets(samples, "coherence_request_duration_seconds", operation=operation) >= SLO_BUCKETS
    assert _buckets(samples, "coherence_ingest_duration_seconds") >= SLO_BUCKETS
    assert _buckets(samples, "coherence_fanout_latency_seconds") >= SLO_BUCKETS


def test_documented_series_exist(target):
    names = {name for name, _ in _samples(target)}
    expected = {
        "coherence_request_duration_seconds_count",
        "coherence_requests_total",
        "coherence_request_errors_total",
        "coherence_ingest_duration_seconds_count",
        "coherence_fanout_latency_seconds_count",
        "coherence_events_emitted_total",
        "coherence_events_dropped_total",
        "coherence_inflight_requests",
        "coherence_socketio_connections",
        "coherence_store_tenants",
        "coherence_store_signals",
        "process_resident_memory_bytes",
    }
    assert expected <= names


def test_counters_follow_requests_by_operation_code_and_error_kind(target):
    ok_read = ("coherence_requests_total", (("code", "200"), ("operation", "read")))
    unauthenticated = (
        "coherence_request_errors_total",
        (("kind", "unauthenticated"), ("operation", "unknown")),
    )
    read_count = ("coherence_request_duration_seconds_count", (("operation", "read"),))
    before = _samples(target)
    for _ in range(3):
        read(target.graphql_url, target.token())
    read(target.graphql_url, None)
    after = _samples(target)
    assert after[ok_read] - before.get(ok_read, 0) == 3
    assert after[unauthenticated] - before[unauthenticated] == 1
    assert after[read_count] - before[read_count] == 3


def test_ingest_histogram_counts_each_stored_write(target):
    key = ("coherence_ingest_duration_seconds_count", ())
    before = _samples(target)[key]
    for _ in range(4):
        write(target.graphql_url, target.token())
    assert _samples(target)[key] - before == 4
