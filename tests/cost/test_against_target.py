"""Cost per request against the real reference target, read from its /metrics and through a real
Prometheus server scraping it: both count exactly the requests sent, a run without fault passes
against a baseline without fault, and the cpu_burn_ms fault turns the gate WARN (FAIL by policy)
naming the rise in CPU per request."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.plugins.prometheus import running_prometheus
from tests.plugins.target import launch_target
from verification_pipeline.cost.document import baseline_block, cost_document, policy_of
from verification_pipeline.cost.sampling import sample_resources
from verification_pipeline.slo.spec import default_slo_spec

READ = "query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }"
REQUESTS = 800
CLIENTS = 4
POLICY = default_slo_spec().cost.model_copy(update={"sample_interval_s": 0.5, "promql_settle_s": 2.0})


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One target, one Prometheus scraping it, and a function running one measured phase."""
    target = launch_target(tmp_path_factory.mktemp("cost-target"))
    try:
        with running_prometheus(
            tmp_path_factory.mktemp("prometheus"), [target.base_url.removeprefix("http://")]
        ) as prometheus:

            def phase(**faults: object) -> dict:
                with (
                    target.faults(**faults) if faults else _nothing(),
                    sample_resources(
                        "slo_load",
                        POLICY,
                        metrics_url=f"{target.base_url}/metrics",
                        prometheus_url=prometheus,
                    ) as sampler,
                ):
                    _drive(target, REQUESTS)
                rows = sampler.rows()
                return {"rows": rows, "notes": {"slo_load": sampler.notes}}

            yield phase
    finally:
        target.stop()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _drive(target, total: int) -> None:
    headers = {"Authorization": f"Bearer {target.token()}"}
    body = {"query": READ, "variables": {"t": "tenant-123"}}

    def client(count: int) -> None:
        with httpx.Client(headers=headers, timeout=10) as http:
            for _ in range(count):
                http.post(target.graphql_url, json=body).raise_for_status()

    threads = [threading.Thread(target=client, args=(total // CLIENTS,)) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _document(run: dict, baseline: dict | None, **policy: object) -> dict:
    return cost_document(
        run["rows"], policy={**policy_of(POLICY), **policy}, notes=run["notes"], baseline=baseline
    )


@pytest.mark.slow
def test_cost_per_request_from_metrics_and_promql_with_the_cpu_burn_fault_caught(measured):
    first, second, burning = measured(), measured(), measured(cpu_burn_ms=4)

    baseline_doc = _document(first, None)
    assert baseline_doc["verdict"] == "PASS" and "not compared: no baseline" in baseline_doc["reason"]
    for source in ("scrape", "promql"):
        figures = baseline_doc["phases"]["slo_load"]["sources"][source]
        # the service's own counter saw exactly the requests sent, read either way
        assert figures["requests"] == REQUESTS, (source, figures)
        assert figures["cache_hits"] + figures["cache_misses"] == REQUESTS
        assert figures["cache_hit_ratio"] > 0.99 and figures["limiter_refused"] == 0
        assert (
            figures["cpu_seconds_per_1000_requests"] > 0 and figures["peak_resident_memory_bytes"] > 20 << 20
        )
    assert baseline_doc["phases"]["slo_load"]["preferred_source"] == "promql"
    baseline = baseline_block("v1.0.0-rc1", "s3://b/rc1", baseline_doc)

    clean = _document(second, baseline)
    assert clean["verdict"] == "PASS", clean["reason"]
    assert clean["comparisons"] and not clean["comparisons"][0]["exceeded"]

    # 4 ms of CPU per request is several times the target's own cost per request
    warned = _document(burning, baseline)
    assert warned["verdict"] == "WARN", warned["reason"]
    assert "CPU per request rose" in warned["reason"] and "v1.0.0-rc1" in warned["reason"]
    assert warned["comparisons"][0]["increase_pct"] > 100
    assert _document(burning, baseline, on_increase="fail")["verdict"] == "FAIL"


def test_a_service_without_metrics_is_not_measured_never_passed(target):
    with sample_resources(
        "slo_load", POLICY, metrics_url=f"{target.base_url}/no-metrics-here", prometheus_url=None
    ) as sampler:
        pass
    doc = cost_document(
        sampler.rows(), policy=policy_of(POLICY), notes={"slo_load": sampler.notes}, baseline=None
    )
    assert doc["verdict"] == "WARN" and doc["reason"].startswith("NOT MEASURED")
    assert "HTTP 404" in doc["reason"] and "VP_PROMETHEUS_URL not set" in doc["reason"]
