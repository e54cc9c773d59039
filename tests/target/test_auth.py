"""Tokens and tenants: who may read, write and see what. Refusals are 401/403 with a reason, never 500."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest

from tests.target.helpers import READ_QUERY, error_code, error_message, post, read, write


def _claims(**overrides: object) -> dict:
    now = int(time.time())
    claims = {
        "sub": "t",
        "tenant": "tenant-123",
        "scopes": ["coherence:read", "coherence:write"],
        "exp": now + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def test_missing_token_is_401_saying_how_to_send_one(target):
    response = read(target.graphql_url, None)
    assert response.status_code == 401
    assert "Authorization: Bearer" in error_message(response)
    assert error_code(response) == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_non_bearer_scheme_is_401(target):
    body = {"query": READ_QUERY, "variables": {"t": "tenant-123"}}
    response = post(target.graphql_url, None, body, authorization="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert "missing bearer token" in error_message(response)


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda secret: "not-a-jwt", "not a well-formed JWT"),
        (lambda secret: jwt.encode(_claims(exp=int(time.time()) - 5), secret, algorithm="HS256"), "expired"),
        (
            lambda secret: jwt.encode(_claims(), secrets.token_bytes(32), algorithm="HS256"),
            "signature does not verify",
        ),
        (lambda secret: jwt.encode(_claims(), None, algorithm="none"), "'none' is not accepted"),
        (lambda secret: jwt.encode(_claims(), secret, algorithm="HS512"), "'HS512' is not accepted"),
        (lambda secret: jwt.encode(_claims(tenant="*"), secret, algorithm="HS256"), "'*' is not allowed"),
        (lambda secret: jwt.encode(_claims(tenant=None), secret, algorithm="HS256"), "'tenant' claim"),
        (lambda secret: jwt.encode(_claims(exp=None), secret, algorithm="HS256"), "'exp' claim"),
        (
            lambda secret: jwt.encode(_claims(scopes="coherence:read"), secret, algorithm="HS256"),
            "list of strings",
        ),
    ],
    ids=[
        "garbage",
        "expired",
        "forged",
        "alg-none",
        "alg-switch",
        "tenant-star",
        "no-tenant",
        "no-exp",
        "bad-scopes",
    ],
)
def test_unusable_tokens_are_401_with_the_reason(target, make_token, reason):
    token = make_token(target.jwt_secret)
    for response in (read(target.graphql_url, token), write(target.graphql_url, token)):
        assert response.status_code == 401, response.text
        assert reason in error_message(response)
        assert token not in response.text


def test_token_minted_expired_is_refused(target):
    response = read(target.graphql_url, target.token(ttl_s=-1))
    assert response.status_code == 401
    assert "expired" in error_message(response)


def test_read_without_read_scope_is_403(target):
    response = read(target.graphql_url, target.token(scopes=("coherence:write",)))
    assert response.status_code == 403
    assert "'coherence:read'" in error_message(response)
    assert error_code(response) == "FORBIDDEN"


def test_write_without_write_scope_is_403_and_stores_nothing(target):
    tenant = "tenant-scope-check"
    response = write(target.graphql_url, target.token(tenant, scopes=("coherence:read",)), tenant=tenant)
    assert response.status_code == 403
    assert "'coherence:write'" in error_message(response)
    after = read(target.graphql_url, target.token(tenant), tenant=tenant)
    assert after.json()["data"]["tenantCoherence"]["status"] == "NO_DATA"


def test_a_tenant_cannot_read_another_tenant(target):
    response = read(target.graphql_url, target.token("tenant-a"), tenant="tenant-b")
    assert response.status_code == 403
    assert error_message(response) == "token for tenant 'tenant-a' may not read tenant 'tenant-b'"
    assert response.json()["data"] == {"tenantCoherence": None}


def test_a_tenant_cannot_write_another_tenant(target):
    victim = "tenant-victim"
    response = write(target.graphql_url, target.token("tenant-attacker"), tenant=victim, value=0.0)
    assert response.status_code == 403
    assert "may not write to tenant 'tenant-victim'" in error_message(response)
    after = read(target.graphql_url, target.token(victim), tenant=victim)
    assert after.json()["data"]["tenantCoherence"]["status"] == "NO_DATA"
