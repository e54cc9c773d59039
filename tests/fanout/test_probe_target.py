"""The probe against the real reference target: every delivery accounted, faults seen as faults."""

from __future__ import annotations

import re
import socket

import polars as pl
import pytest

from reference_target.tokens import mint_token
from verification_pipeline.errors import TargetError
from verification_pipeline.fanout.metrics import gate_breaches
from verification_pipeline.fanout.probe import ProbeConfig, run_probe


def probe(target, tenant: str, **settings) -> ProbeConfig:
    return ProbeConfig(url=target.graphql_url, token=target.token(tenant), tenant=tenant, **settings)


def dropped_so_far(target) -> float:
    found = re.search(
        r'^coherence_events_dropped_total\{reason="fault"\} (\S+)$', target.metrics_text(), re.MULTILINE
    )
    return float(found.group(1)) if found else 0.0


def test_a_normal_run_accounts_for_every_subscriber_and_event(target):
    phases: dict[str, tuple[int, int]] = {}
    result = run_probe(
        probe(target, "fanout-normal", subscribers=20, events=50, grace_ms=3000),
        progress=lambda phase, done, total: phases.__setitem__(phase, (done, total)),
    )
    deliveries = result.deliveries
    assert len(deliveries) == 20 * 50
    assert set(deliveries["status"]) <= {"delivered", "late"}
    assert deliveries.select("subscriber", "event_id").is_unique().all()
    assert deliveries["seq"].null_count() == 0
    # the target numbers a tenant's events in publish order
    per_event = deliveries.group_by("event_id").agg(pl.col("seq").first(), pl.col("published_at").first())
    assert per_event.sort("published_at")["seq"].is_sorted()
    assert (deliveries["latency_ms"] > 0).all()
    assert (deliveries["received_at"] > deliveries["published_at"]).all()
    assert (result.foreign_events, result.disconnects, result.processes) == (0, 0, 1)
    metrics = result.metrics()
    assert (metrics["count"], metrics["lost"], metrics["duplicates"]) == (1000, 0, 0)
    assert metrics["delivery_ratio"] == 1.0
    assert metrics["p50_ms"] <= metrics["p95_ms"] <= metrics["p99_ms"] <= metrics["max_ms"]
    assert metrics["loop_lag_p99_ms"] is not None
    assert set(result.loop_lag["process"]) == {"publisher", "subscribers-0"}
    assert phases == {"subscribe": (20, 20), "publish": (50, 50), "drain": (1, 1)}


def test_t0_echoes_give_the_seed_method_figure_beside_ours(target):
    """As the seed's script: a t0 message after each publish, echoed to the room; the echoes are
    timed for the seed-method figure and never enter the delivery table or its counts."""
    events = 30
    result = run_probe(probe(target, "fanout-echoes", subscribers=2, events=events, t0_echoes=True))
    metrics = result.metrics()
    seed_method = metrics["seed_method"]
    # RUNS latencies per subscriber, as the script stops at RUNS: publishes and echoes both.
    assert seed_method["count"] == 2 * events
    assert seed_method["publishes"] + seed_method["echoes"] == 2 * events
    assert seed_method["echoes"] > 0 and seed_method["publishes"] > 0
    assert seed_method["p95_ms"] <= seed_method["p99_ms"]
    assert len(result.deliveries) == 2 * events and metrics["lost"] == 0
    assert result.foreign_events == 0
    without = run_probe(probe(target, "fanout-no-echoes", subscribers=1, events=5)).metrics()
    assert "seed_method" not in without


def test_dropped_events_are_counted_as_losses_exactly(target):
    subscribers, events = 8, 40
    before = dropped_so_far(target)
    with target.faults(drop_event_rate=0.3):
        result = run_probe(
            probe(target, "fanout-drops", subscribers=subscribers, events=events, grace_ms=1500)
        )
    dropped = dropped_so_far(target) - before
    metrics = result.metrics()
    assert dropped > 0
    # a dropped event reaches no subscriber, so each one is exactly `subscribers` losses
    assert metrics["lost"] == dropped * subscribers
    assert metrics["count"] + metrics["lost"] == subscribers * events
    lost_events = result.deliveries.filter(pl.col("status") == "lost").group_by("event_id").len()
    assert set(lost_events["len"]) == {subscribers}
    assert metrics["delivery_ratio"] == pytest.approx(1 - dropped / events)
    assert any("delivery ratio" in breach for breach in gate_breaches(metrics))


def test_added_fanout_delay_shows_in_p95(target):
    baseline = run_probe(probe(target, "fanout-delay", subscribers=5, events=20, grace_ms=3000)).metrics()
    with target.faults(fanout_delay_ms="150"):
        delayed = run_probe(
            probe(target, "fanout-delay", subscribers=5, events=20, late_ms=140, grace_ms=3000)
        ).metrics()
    assert delayed["p50_ms"] >= 150  # every event waited 150 ms before it was emitted
    assert (delayed["late"], delayed["delivered"], delayed["delivery_ratio"]) == (100, 0, 1.0)
    assert delayed["p95_ms"] >= baseline["p95_ms"] + 100
    assert delayed["lost"] == 0
    assert gate_breaches(delayed, max_p95_ms=100)[0].startswith("fan-out p95")


def test_a_fixed_rate_spaces_the_publishes_on_schedule(target):
    result = run_probe(probe(target, "fanout-rate", subscribers=3, events=20, rate=50.0, grace_ms=3000))
    published = (
        result.deliveries.group_by("event_id").agg(pl.col("published_at").first())["published_at"].sort()
    )
    span_s = (published[-1] - published[0]).total_seconds()
    assert 19 / 50 * 0.9 <= span_s <= 19 / 50 + 0.5  # open model: on schedule, not back to back
    assert result.metrics()["delivery_ratio"] == 1.0


def test_failed_publishes_are_reported_apart_from_losses(target):
    with target.faults(error_rate=0.4):
        result = run_probe(probe(target, "fanout-publish-errors", subscribers=3, events=30, grace_ms=2000))
    metrics = result.metrics()
    assert metrics["publish_errors"] == len(result.publish_failures) > 0
    assert all(failure.startswith("HTTP 500") for failure in result.publish_failures)
    # an event the target never accepted is nobody's loss
    assert metrics["events"] == 30 - metrics["publish_errors"]
    assert (metrics["lost"], metrics["delivery_ratio"]) == (0, 1.0)


def test_a_token_the_target_rejects_is_a_clear_error_without_the_token(target):
    forged = mint_token(b"not the target's secret, but long enough", "fanout-forged", ["coherence:read"])
    config = ProbeConfig(
        url=target.graphql_url, token=forged, tenant="fanout-forged", subscribers=3, events=2
    )
    with pytest.raises(TargetError) as raised:
        run_probe(config)
    message = str(raised.value)
    assert message.startswith(target.base_url)
    assert "refused" in message and "signature does not verify" in message
    assert forged not in message


def test_a_token_without_write_scope_is_refused_at_the_first_publish(target):
    read_only = target.token("fanout-read-only", scopes=("coherence:read",))
    config = ProbeConfig(
        url=target.graphql_url, token=read_only, tenant="fanout-read-only", subscribers=2, events=2
    )
    with pytest.raises(TargetError) as raised:
        run_probe(config)
    message = str(raised.value)
    assert message.startswith(target.graphql_url) and "HTTP 403" in message and "coherence:write" in message
    assert read_only not in message


def test_a_token_for_another_tenant_cannot_subscribe(target):
    config = ProbeConfig(
        url=target.graphql_url,
        token=target.token("fanout-tenant-b"),
        tenant="fanout-tenant-a",
        subscribers=2,
        events=2,
    )
    with pytest.raises(TargetError, match="may not subscribe"):
        run_probe(config)


def test_a_refused_connection_names_the_url_and_the_cause():
    with socket.socket() as holder:  # a port that was free a moment ago and nobody listens on
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    token = mint_token(b"k" * 32, "fanout-nobody", ["coherence:read", "coherence:write"])
    url = f"http://127.0.0.1:{port}/graphql"
    with pytest.raises(TargetError) as raised:
        run_probe(ProbeConfig(url=url, token=token, tenant="fanout-nobody", subscribers=1, events=1))
    message = str(raised.value)
    assert message.startswith(url) and "Connection refused" in message
    assert token not in message


def test_several_hundred_subscribers_spread_over_processes_are_all_accounted(target):
    result = run_probe(probe(target, "fanout-many", subscribers=400, events=10, processes=2, grace_ms=10_000))
    metrics = result.metrics()
    assert result.processes == 2
    assert set(result.loop_lag["process"]) == {"publisher", "subscribers-0", "subscribers-1"}
    assert metrics["subscribers"] == 400 and metrics["events"] == 10
    assert metrics["count"] + metrics["lost"] == 4000
    assert metrics["lost"] == 0 and metrics["duplicates"] == 0
    assert sorted(result.deliveries["subscriber"].unique()) == list(range(400))
