"""The reference target's per-tenant limit from its command line: each tenant its own bucket,
the seed's load tenant unmetered by default, and the 503 fault answering without Retry-After."""

from __future__ import annotations

from tests.target.helpers import error_code, error_message, read


def test_each_tenant_has_its_own_bucket_and_the_seed_tenant_none(start_target):
    running = start_target("--tenant-rps-limit", "4")
    a = [read(running.graphql_url, running.token("flags-a"), tenant="flags-a") for _ in range(8)]
    b = [read(running.graphql_url, running.token("flags-b"), tenant="flags-b") for _ in range(4)]
    seed = [read(running.graphql_url, running.token()) for _ in range(12)]
    # the bucket holds one second's worth; it refills at 4/s while the rest are sent (refusals are paced)
    assert [r.status_code for r in a[:4]] == [200] * 4 and {r.status_code for r in a[4:]} <= {200, 429}
    refused = next(r for r in a[4:] if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1 and error_code(refused) == "TOO_MANY_REQUESTS"
    assert "tenant 'flags-a' exceeded its limit of 4 requests per second" in error_message(refused)
    assert {r.status_code for r in b} == {200}, "a neighbour's bucket is its own"
    assert {r.status_code for r in seed} == {200}, "tenant-123 is unmetered unless told otherwise"


def test_the_503_fault_refuses_without_retry_after_and_unmetered_can_be_emptied(start_target):
    running = start_target("--tenant-rps-limit", "2", "--unmetered-tenant", "", "--shed-with-503")
    answers = [read(running.graphql_url, running.token()) for _ in range(5)]
    assert [r.status_code for r in answers[:2]] == [200, 200]
    shed = [r for r in answers if r.status_code != 200]
    assert shed and {r.status_code for r in shed} == {503}
    assert all("retry-after" not in r.headers for r in shed)
