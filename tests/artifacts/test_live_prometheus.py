"""A real Prometheus (Debian's package) loads the generated rules, scrapes the reference target,
and answers every dashboard query with data: names, labels and joins all line up."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from verification_pipeline.artifacts.dashboard import render_dashboard
from verification_pipeline.artifacts.rules import render_rules

READ = "query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }"
WRITE = "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }"
DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path: Path, start_target, seed_slos, metrics) -> Iterator[tuple[str, object]]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: apt-get install -y --no-install-recommends prometheus"
    target = start_target()
    (tmp_path / "slo-burn-rate.yaml").write_text(render_rules(seed_slos, metrics))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["slo-burn-rate.yaml"],
        "scrape_configs": [
            {
                "job_name": "coherence",
                "static_configs": [{"targets": [target.base_url.removeprefix("http://")]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{_free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://{address}"
    try:
        _wait(
            lambda: httpx.get(f"{base}/-/ready", timeout=2).status_code == 200, "prometheus ready", tmp_path
        )
        yield base, target
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait(check, what: str, logs: Path) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}:\n{(logs / 'prometheus.log').read_text()[-3000:]}")


def _query(base: str, expr: str) -> list[dict]:
    response = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]


def _drive_traffic(target) -> None:
    headers = {"Authorization": f"Bearer {target.token()}"}
    with httpx.Client(headers=headers, timeout=10) as client:
        for i in range(40):
            client.post(
                target.graphql_url, json={"query": READ, "variables": {"t": "tenant-123"}}
            ).raise_for_status()
            if i % 4 == 0:
                signal = {"tenantId": "tenant-123", "type": "test", "value": i, "source": "ops-test",
                          "ts": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
                client.post(
                    target.graphql_url, json={"query": WRITE, "variables": {"input": signal}}
                ).raise_for_status()
            time.sleep(0.04)


@pytest.mark.slow
def test_prometheus_answers_every_dashboard_query(prometheus, tmp_path, seed_slos, metrics):
    base, target = prometheus
    # Prometheus syncs scrape targets every few seconds; traffic before the first scrape is invisible to rate().
    _wait(lambda: bool(_query(base, "up == 1")), "the first scrape", tmp_path)
    _drive_traffic(target)
    read_sli = 'slo:sli_error:ratio_rate5m{sloth_slo="read_latency_p95"}'
    _wait(
        lambda: bool(_query(base, f"{read_sli} and on() sum(rate({metrics.requests_total}[1m])) > 0")),
        "SLI",
        tmp_path,
    )

    rules = httpx.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
    broken = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r["health"] != "ok"]
    assert rules and not broken

    for panel in render_dashboard(seed_slos, metrics)["panels"]:
        for target_query in panel.get("targets", []):
            expr = target_query["expr"].replace("$__rate_interval", "1m")
            # recordings built on other recordings appear one evaluation later: wait, bounded
            _wait(lambda expr=expr: bool(_query(base, expr)), f"data for {panel['title']}: {expr}", tmp_path)
            result = _query(base, expr)
            if "histogram_quantile" not in expr:  # a quantile of a histogram nobody observed is NaN
                assert all(math.isfinite(float(r["value"][1])) for r in result), f"{expr}: {result}"

    # All reads were fast and none failed: the read SLI is perfect and its budget untouched.
    assert float(_query(base, f"1 - {read_sli}")[0]["value"][1]) == 1.0
    remaining = _query(base, 'slo:period_error_budget_remaining:ratio{sloth_slo="read_latency_p95"}')
    assert float(remaining[0]["value"][1]) == 1.0
