"""Fan-out subscribers asking for another tenant's room, against the real reference target: a
clean one refuses them and delivers them nothing while the measured tenant's events flow; its
cross-tenant leak fault lets them in, the events reach them, and the authz gate FAILs naming the kind."""

from __future__ import annotations

import datetime as dt

import httpx

from verification_pipeline.authz.document import authz_document
from verification_pipeline.authz.probe import WRITE_QUERY
from verification_pipeline.authz.subscribers import cross_tenant_subscribers, plan_intrusion
from verification_pipeline.authz.tokens import AuthzTokens

TENANT = "tenant-123"
KIND = "cross_tenant_subscribe"


def _publish(target, events: int) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {target.token(TENANT)}"}, timeout=10) as client:
        for i in range(events):
            signal = {"tenantId": TENANT, "type": "authz-test", "value": i / events, "source": "test",
                      "ts": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip
            client.post(
                target.graphql_url, json={"query": WRITE_QUERY, "variables": {"input": signal}}
            ).raise_for_status()


def _held(target, tokens: AuthzTokens, count: int) -> tuple[dict, object]:
    intrusion = plan_intrusion(tokens, TENANT)
    with cross_tenant_subscribers(target.base_url, intrusion, count) as out:
        _publish(target, 20)
    rows = out[0]
    return authz_document(rows, tried=[KIND], not_tried={}, confidence=0.95), intrusion


def test_a_clean_target_refuses_another_tenants_subscribers_and_delivers_them_nothing(target):
    with_neighbour = AuthzTokens(main=target.token(TENANT), neighbour=target.token("tenant-456"))
    doc, intrusion = _held(target, with_neighbour, 6)
    assert intrusion.room == TENANT and "neighbour's token" in intrusion.how
    assert doc["verdict"] == "PASS", doc["reason"]
    kind = next(k for k in doc["kinds"] if k["kind"] == KIND)
    assert kind["attempts"] == 6 and kind["refused"] == 6 and kind["statuses"] == {"403": 6}
    # without the neighbour's token the main one asks for a tenant it does not name, and says so
    doc, intrusion = _held(target, AuthzTokens(main=target.token(TENANT)), 3)
    assert intrusion.room != TENANT and "VP_TARGET_JWT_NEIGHBOUR not given" in intrusion.how
    assert doc["verdict"] == "PASS" and doc["refused"] == 3


def test_the_leak_fault_lets_another_tenants_subscriber_in_and_the_gate_fails(target):
    tokens = AuthzTokens(main=target.token(TENANT), neighbour=target.token("tenant-456"))
    with target.faults(cross_tenant_leak_rate=0.5):
        doc, _ = _held(target, tokens, 8)
    assert doc["verdict"] == "FAIL" and f"({KIND} " in doc["reason"], doc["reason"]
    kind = next(k for k in doc["kinds"] if k["kind"] == KIND)
    assert kind["admitted"] >= 1 and kind["admitted"] + kind["refused"] == 8
