"""Fault injection, at startup and at runtime: each fault shows where an SLO would see it."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.target.helpers import error_code, error_message, read, write
from tests.target.test_realtime import _publish, _subscribed


def _timed(call) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call()
    return response, (time.perf_counter() - started) * 1000


def test_read_latency_shows_in_reads_only(target):
    with target.faults(read_latency_ms="uniform:150:200"):
        reads = [_timed(lambda: read(target.graphql_url, target.token())) for _ in range(3)]
        _, write_ms = _timed(lambda: write(target.graphql_url, target.token()))
    assert all(response.status_code == 200 and elapsed >= 150 for response, elapsed in reads)
    assert write_ms < 150
    _, after_ms = _timed(lambda: read(target.graphql_url, target.token()))
    assert after_ms < 150


def test_write_latency_counts_as_ingest_time(target):
    with target.faults(write_latency_ms="120"):
        response = write(target.graphql_url, target.token())
    ingest_ms = float(re.fullmatch(r"ingest;dur=([\d.]+)", response.headers["server-timing"]).group(1))
    assert response.status_code == 200
    assert ingest_ms >= 115  # the event loop timer may wake a millisecond early


def test_error_rate_one_answers_500_and_is_counted(target):
    with target.faults(error_rate=1.0):
        responses = [read(target.graphql_url, target.token()), write(target.graphql_url, target.token())]
    assert [response.status_code for response in responses] == [500, 500]
    assert error_code(responses[0]) == "INJECTED_FAULT"
    assert 'coherence_request_errors_total{kind="injected",operation="read"}' in target.metrics_text()
    assert read(target.graphql_url, target.token()).status_code == 200


def test_error_rate_half_fails_about_half(target):
    with target.faults(error_rate=0.5):
        statuses = [read(target.graphql_url, target.token()).status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


def test_graphql_error_rate_answers_200_with_errors(target):
    with target.faults(graphql_error_rate=1.0):
        response = read(target.graphql_url, target.token())
    assert response.status_code == 200
    assert error_message(response) == "injected fault: graphql_error_rate"


def _dropped_by_fault(target) -> float:
    match = re.search(
        r'^coherence_events_dropped_total\{reason="fault"\} (\S+)', target.metrics_text(), re.MULTILINE
    )
    return float(match.group(1)) if match else 0.0


def test_dropped_events_never_arrive(target):
    dropped_before = _dropped_by_fault(target)  # the session target counts other tests' drops too

    async def scenario() -> list[dict]:
        subscriber = await _subscribed(target, "tenant-drop")
        with target.faults(drop_event_rate=1.0):
            for _ in range(3):
                await _publish(target, "tenant-drop")
            await asyncio.sleep(0.3)
        await _publish(target, "tenant-drop")
        events = await subscriber.wait_for(1)
        await subscriber.client.disconnect()
        return events

    events = asyncio.run(scenario())
    assert len(events) == 1
    assert events[0]["seq"] == 4, "dropped events still take a sequence number, so a probe can see the gap"
    assert _dropped_by_fault(target) - dropped_before == 3


def test_fanout_delay_shows_in_delivery_latency(target):
    async def scenario() -> list[dict]:
        subscriber = await _subscribed(target, "tenant-slow-fanout")
        with target.faults(fanout_delay_ms="300"):
            await _publish(target, "tenant-slow-fanout")
            events = await subscriber.wait_for(1)
        await subscriber.client.disconnect()
        return events

    (event,) = asyncio.run(scenario())
    assert event["_received_ms"] - event["_t0"] >= 300


def test_admin_needs_the_admin_token(target):
    url = f"{target.base_url}/admin/faults"
    assert httpx.post(url, json={"error_rate": 1}, timeout=10).status_code == 401
    assert (
        httpx.post(url, json={"error_rate": 1}, headers={"X-Admin-Token": "wrong"}, timeout=10).status_code
        == 401
    )
    assert read(target.graphql_url, target.token()).status_code == 200


@pytest.mark.parametrize(
    ("faults", "fragment"),
    [
        ({"error_rate": 2}, "[error_rate]: must be at most 1.0, got 2"),
        ({"read_latency_ms": "gamma:1:2"}, "[read_latency_ms]: 'gamma:1:2' is not a latency"),
        ({"read_latency_ms": "uniform:80:10"}, "uniform needs LOW <= HIGH"),
        ({"rps_limit": 0}, "[rps_limit]: must be above 0.0, got 0"),
        ({"error_rat": 0.1}, "[error_rat]: unknown key"),
    ],
)
def test_bad_fault_values_are_400_naming_the_field(target, faults, fragment):
    response = httpx.post(
        f"{target.base_url}/admin/faults",
        json=faults,
        headers={"X-Admin-Token": target.admin_token},
        timeout=10,
    )
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert (
        httpx.get(
            f"{target.base_url}/admin/faults", headers={"X-Admin-Token": target.admin_token}, timeout=10
        ).json()["faults"]["error_rate"]
        == 0.0
    )


def test_startup_faults_are_the_baseline_that_clear_returns_to(start_target):
    running = start_target(graphql_error_rate=1.0, read_latency_ms="normal:20:5")
    assert error_message(read(running.graphql_url, running.token())) == "injected fault: graphql_error_rate"
    running.set_faults(graphql_error_rate=None)
    assert read(running.graphql_url, running.token()).status_code == 200
    baseline = running.clear_faults()
    assert (baseline["graphql_error_rate"], baseline["read_latency_ms"]) == (1.0, "normal:20:5")


def test_bad_startup_flag_exits_2_with_a_message_and_no_traceback(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reference_target",
            "--jwt-secret-file",
            str(secret),
            "--error-rate",
            "1.5",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: command line [error_rate]: must be at most 1.0")
    assert "Traceback" not in result.stderr
