"""429 + Retry-After instead of unbounded queueing: the RPS limit and the in-flight limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess

import httpx
import pytest

from tests.target.helpers import READ_QUERY, error_code, error_message, read


def test_rps_limit_answers_429_with_retry_after(start_target):
    running = start_target(rps_limit=5)
    responses = [read(running.graphql_url, running.token()) for _ in range(9)]
    statuses = [response.status_code for response in responses]
    assert statuses[:5] == [200] * 5, "the bucket holds one second's worth of requests"
    refused = [response for response in responses if response.status_code == 429]
    assert len(refused) >= 2
    assert set(statuses) == {200, 429}
    assert all(int(response.headers["retry-after"]) >= 1 for response in refused)
    assert error_code(refused[0]) == "TOO_MANY_REQUESTS"
    assert "rate limit of 5 requests per second" in error_message(refused[0])
    assert 'coherence_request_errors_total{kind="rate_limited",operation="unknown"}' in running.metrics_text()


def test_rps_limit_can_be_set_and_lifted_at_runtime(target):
    with target.faults(rps_limit=1):
        statuses = [read(target.graphql_url, target.token()).status_code for _ in range(5)]
    assert 429 in statuses
    assert [read(target.graphql_url, target.token()).status_code for _ in range(20)] == [200] * 20


def test_requests_beyond_max_inflight_are_refused_not_queued(start_target):
    running = start_target(max_inflight=2, read_latency_ms=400)
    body = {"query": READ_QUERY, "variables": {"t": "tenant-123"}}
    headers = {"Authorization": f"Bearer {running.token()}"}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            return await asyncio.gather(
                *(client.post(running.graphql_url, json=body, headers=headers) for _ in range(6))
            )

    responses = asyncio.run(burst())
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 429, 429, 429, 429]
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert "2 requests in flight (limit 2)" in error_message(refused)


@pytest.mark.slow
def test_twice_the_seed_load_gets_429s_not_5xx_and_memory_stays_bounded(
    start_target, seed_clients, k6_binary, tmp_path
):
    """Seed profile x2 (100 read + 40 write VUs), closed model: shed with 429, nothing else fails."""
    import psutil

    # its own instance: the session target's counters carry other tests' injected 500s
    target = start_target()

    runs = [
        subprocess.Popen(
            [str(k6_binary), "run", "--quiet", "--no-usage-report", "--address", "127.0.0.1:0",
             "--vus", str(vus), "--duration", "8s", "-e", f"GRAPHQL_URL={target.graphql_url}",
             "-e", f"JWT={target.token()}", f"--summary-export={tmp_path / name}.json", str(seed_clients / script)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, vus, script in (("read", 100, "graphql_read.js"), ("write", 40, "graphql_write.js"))
    ]  # fmt: skip
    peak_rss = 0
    server = psutil.Process(target.process.pid)
    while any(run.poll() is None for run in runs):
        peak_rss = max(peak_rss, server.memory_info().rss)
        with contextlib.suppress(subprocess.TimeoutExpired):
            runs[0].wait(timeout=0.5)
    assert [run.wait() for run in runs] == [0, 0]
    metrics = target.metrics_text()
    refused = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('coherence_requests_total{code="429"')
    )
    server_errors = [
        line for line in metrics.splitlines() if line.startswith('coherence_requests_total{code="5')
    ]
    assert refused > 0
    assert server_errors == []
    assert peak_rss < 400 * 1024 * 1024
    summary = json.loads((tmp_path / "read.json").read_text())
    assert summary["metrics"]["http_reqs"]["count"] > 1000
