"""Cost per request against the real reference target, read from its /metrics and through a real
Prometheus server scraping it: both count exactly the requests sent, a run without fault passes
against a baseline without fault, and the cpu_burn_ms fault turns the gate WARN (FAIL by policy)
naming the rise in CPU per request. Under the concurrent design two real targets take the load
side by side and each one's own /metrics is read at the same moments."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.plugins.prometheus import running_prometheus
from tests.plugins.target import launch_target
from verification_pipeline.cost.document import (
    baseline_block,
    concurrent_baseline_block,
    cost_document,
    policy_of,
)
from verification_pipeline.cost.sampling import (
    PhaseSampler,
    baseline_sampler,
    reading,
    rows_of,
    sample_resources,
)
from verification_pipeline.slo.spec import default_slo_spec

READ = "query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }"
REQUESTS = 800
# The two runs without fault compared against each other: 3,000 requests (about 0.9 CPU s), so
# that the 10 ms CPU ticks and the target's scrapes are a small part of what is compared.
CLEAN_REQUESTS = 3_000
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

            def phase(total: int = REQUESTS, **faults: object) -> dict:
                with (
                    target.faults(**faults) if faults else _nothing(),
                    sample_resources(
                        "slo_load",
                        POLICY,
                        metrics_url=f"{target.base_url}/metrics",
                        prometheus_url=prometheus,
                    ) as sampler,
                ):
                    _drive(target, total=total)
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


def _drive(*targets, total: int) -> None:
    """`total` reads from CLIENTS threads, each request to the next of `targets` in turn."""
    sides = [(t.graphql_url, {"Authorization": f"Bearer {t.token()}"}) for t in targets]
    body = {"query": READ, "variables": {"t": "tenant-123"}}

    def client(count: int) -> None:
        with httpx.Client(timeout=10) as http:
            for i in range(count):
                url, headers = sides[i % len(sides)]
                http.post(url, json=body, headers=headers).raise_for_status()

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
    first, second = measured(CLEAN_REQUESTS), measured(CLEAN_REQUESTS)
    burning = measured(REQUESTS, cpu_burn_ms=4)

    baseline_doc = _document(first, None)
    assert baseline_doc["verdict"] == "PASS" and "not compared: no baseline" in baseline_doc["reason"]
    for source in ("scrape", "promql"):
        figures = baseline_doc["phases"]["slo_load"]["sources"][source]
        # the service's own counter saw exactly the requests sent, read either way
        assert figures["requests"] == CLEAN_REQUESTS, (source, figures)
        assert figures["cache_hits"] + figures["cache_misses"] == CLEAN_REQUESTS
        assert figures["cache_hit_ratio"] > 0.99 and figures["limiter_refused"] == 0
        assert (
            figures["cpu_seconds_per_1000_requests"] > 0 and figures["peak_resident_memory_bytes"] > 20 << 20
        )
    assert baseline_doc["phases"]["slo_load"]["preferred_source"] == "promql"
    baseline = baseline_block("v1.0.0-rc1", "s3://b/rc1", baseline_doc)

    # Two runs of one target minutes apart are the sequential design: this machine moves CPU per
    # request between them (0.253-0.373 CPU s per 1,000 requests over 6 runs of 3,000 on a quiet
    # machine, +47 % at the extremes; +30 % and +36 % in two CI runs), which the default 30 % does
    # not allow for. That is what the concurrent design is for (its test below keeps 30 %); here the
    # gate is shown to tell that noise from the fault's +1,000 % and more.
    clean = _document(second, baseline, max_cpu_per_request_increase_pct=100)
    assert clean["verdict"] == "PASS", clean["reason"]
    assert clean["comparisons"] and not clean["comparisons"][0]["exceeded"]

    # 4 ms of CPU per request is several times the target's own cost per request
    warned = _document(burning, baseline)
    assert warned["verdict"] == "WARN", warned["reason"]
    assert "CPU per request rose" in warned["reason"] and "v1.0.0-rc1" in warned["reason"]
    assert warned["comparisons"][0]["increase_pct"] > 300
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


@pytest.fixture(scope="module")
def beside(target, tmp_path_factory):
    """A second target with the baseline's settings (none), and a function running one phase with
    both taking the load side by side (as k6 does under the concurrent design), each one's /metrics
    read at the same moments; the document is the candidate `target`'s against it."""
    baseline = launch_target(tmp_path_factory.mktemp("cost-baseline"))

    def phase(total: int, baseline_metrics: str | None = None, **faults: object) -> dict:
        samplers = [
            PhaseSampler("slo_load", POLICY, f"{target.base_url}/metrics", None),
            baseline_sampler("slo_load", POLICY, baseline_metrics or f"{baseline.base_url}/metrics"),
        ]
        with target.faults(**faults) if faults else _nothing(), reading(samplers, POLICY):
            _drive(target, baseline, total=total)
        notes = {"slo_load": {s: n for sampler in samplers for s, n in sampler.notes.items()}}
        return cost_document(
            rows_of(samplers),
            policy=policy_of(POLICY),
            notes=notes,
            baseline=concurrent_baseline_block("v1.0.0-rc1"),
        )

    try:
        yield phase
    finally:
        baseline.stop()


def test_concurrent_baseline_read_beside_passes_plain_and_catches_the_cpu_burn(beside):
    plain = beside(REQUESTS)
    assert plain["verdict"] == "PASS", plain["reason"]
    assert "measured beside it, concurrent design" in plain["reason"]
    assert plain["baseline"]["design"] == "concurrent"
    ours = plain["phases"]["slo_load"]["sources"]["scrape"]
    theirs = plain["baseline_phases"]["slo_load"]["sources"]["scrape"]
    # each service's own counter saw its own half of the requests, no more: per service, not per host
    assert ours["requests"] == theirs["requests"] == REQUESTS // 2, (ours, theirs)
    assert plain["comparisons"][0]["baseline_cpu_seconds_per_1000_requests"] == pytest.approx(
        theirs["cpu_seconds_per_1000_requests"]
    )

    burning = beside(REQUESTS, cpu_burn_ms=4)
    assert burning["verdict"] == "WARN", burning["reason"]
    assert (
        "CPU per request rose" in burning["reason"] and "v1.0.0-rc1 (measured beside it" in burning["reason"]
    )
    assert burning["comparisons"][0]["increase_pct"] > 100
    # the baseline, without the fault, kept its cost per request in the same run
    assert burning["baseline_phases"]["slo_load"]["sources"]["scrape"]["cpu_seconds_per_1000_requests"] < (
        burning["phases"]["slo_load"]["sources"]["scrape"]["cpu_seconds_per_1000_requests"] / 2
    )


def test_a_concurrent_baseline_whose_metrics_cannot_be_read_is_not_a_pass(beside, target):
    doc = beside(40, baseline_metrics=f"{target.base_url}/no-metrics-here")
    assert doc["phases"]["slo_load"]["preferred_source"] == "scrape"  # this RC was measured
    assert doc["verdict"] == "WARN" and not doc["comparisons"], doc["reason"]
    assert "NOT MEASURED against v1.0.0-rc1 (measured beside it" in doc["reason"]
    assert "HTTP 404" in doc["reason"] and doc["not_read"]["slo_load"]["scrape@baseline"].endswith("404")
