"""Requests the seed's clients send, so tests speak to the target exactly as they do."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

READ_QUERY = "query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }"
WRITE_MUTATION = "mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }"

# One pooled client: a fresh httpx.post per request would pay for a new connection and TLS context each time.
_http = httpx.Client(timeout=10.0)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read(url: str, token: str | None, tenant: str = "tenant-123") -> httpx.Response:
    return post(url, token, {"query": READ_QUERY, "variables": {"t": tenant}})


def write(
    url: str, token: str | None, tenant: str = "tenant-123", value: float = 0.5, **fields: object
) -> httpx.Response:
    signal = {
        "tenantId": tenant,
        "type": "test",
        "value": value,
        "source": "pytest",
        "ts": now_iso(),
        **fields,
    }
    return post(url, token, {"query": WRITE_MUTATION, "variables": {"input": signal}})


def post(url: str, token: str | None, body: object, *, authorization: str | None = None) -> httpx.Response:
    """POST a JSON body with `Bearer token`, or with a raw `authorization` header when given."""
    if authorization is None and token:
        authorization = f"Bearer {token}"
    headers = {"Authorization": authorization} if authorization else {}
    return _http.post(url, json=body, headers=headers)


def error_message(response: httpx.Response) -> str:
    return response.json()["errors"][0]["message"]


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]
