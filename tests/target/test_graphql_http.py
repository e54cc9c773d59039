"""POST /graphql: the seed's operations, ingest timing, and every malformed request answered 4xx."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.target.helpers import READ_QUERY, WRITE_MUTATION, error_code, error_message, post, read, write


def test_seed_read_answers_score_status_updated_at(target):
    response = read(target.graphql_url, target.token())
    assert response.status_code == 200
    coherence = response.json()["data"]["tenantCoherence"]
    assert set(coherence) == {"score", "status", "updatedAt"}


def test_write_returns_event_id_and_server_timing_ingest(target):
    response = write(target.graphql_url, target.token())
    assert response.status_code == 200, response.text
    uuid.UUID(response.json()["data"]["publishCoherenceSignal"])
    match = re.fullmatch(r"ingest;dur=(\d+\.\d+)", response.headers["server-timing"])
    assert match, response.headers["server-timing"]
    assert 0.0 < float(match.group(1)) < 100.0


def test_reads_are_not_timed_as_ingest(target):
    assert "server-timing" not in read(target.graphql_url, target.token()).headers


def test_written_signals_move_the_tenant_score(target):
    tenant = "tenant-score"
    token = target.token(tenant)
    assert read(target.graphql_url, token, tenant).json()["data"]["tenantCoherence"]["status"] == "NO_DATA"
    write(target.graphql_url, token, tenant, value=0.9)
    first = read(target.graphql_url, token, tenant).json()["data"]["tenantCoherence"]
    assert first["score"] == pytest.approx(0.9)
    assert first["status"] == "COHERENT"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["updatedAt"])
    for _ in range(20):
        write(target.graphql_url, token, tenant, value=0.0)
    assert read(target.graphql_url, token, tenant).json()["data"]["tenantCoherence"]["status"] == "INCOHERENT"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": "{ tenantCoherence(tenantId: "}, "Syntax Error"),
        ({"query": "{ nosuchField }"}, "Cannot query field 'nosuchField'"),
        ({"query": READ_QUERY}, "Variable '$t' of required type 'ID!' was not provided"),
        ({"query": ""}, "'query' must be a non-empty string"),
        ({"variables": {}}, "'query' must be a non-empty string"),
        ({"query": READ_QUERY, "variables": [1]}, "'variables' must be an object or null"),
        ({"query": READ_QUERY, "operationName": 5}, "'operationName' must be a string or null"),
        ([{"query": READ_QUERY}], "must be a JSON object"),
        ({"query": f"query R {{ __typename }} mutation W {WRITE_MUTATION[8:]}"}, "name one in 'operationName'"),
        ({"query": READ_QUERY, "operationName": "Nope", "variables": {"t": "x"}}, "no operation named 'Nope'"),
    ],
    ids=["syntax", "unknown-field", "missing-variable", "empty-query", "no-query", "variables-list",
         "operation-name-number", "batch", "two-operations", "unknown-operation"],
)  # fmt: skip
def test_malformed_graphql_is_400_with_the_reason(target, body, fragment):
    response = post(target.graphql_url, target.token(), body)
    assert response.status_code == 400, response.text
    assert fragment in error_message(response)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"value": "high"}, "Float cannot represent non numeric value"),
        ({"ts": "yesterday"}, "is not an ISO 8601 timestamp"),
        ({"ts": "2025-01-31T12:00:00"}, "has no UTC offset"),
        ({"type": "x" * 300}, "input.type is longer than 256 characters"),
    ],
    ids=["value-not-number", "ts-not-iso", "ts-naive", "type-too-long"],
)
def test_bad_signal_input_is_400_and_not_stored(target, fields, fragment):
    tenant = f"tenant-bad-input-{uuid.uuid4().hex[:8]}"
    response = write(target.graphql_url, target.token(tenant), tenant, **fields)
    assert response.status_code == 400, response.text
    assert fragment in error_message(response)
    assert (
        read(target.graphql_url, target.token(tenant), tenant).json()["data"]["tenantCoherence"]["status"]
        == "NO_DATA"
    )


def test_body_that_is_not_json_is_400(target):
    response = httpx.post(
        target.graphql_url,
        content=b"query { x }",
        headers={"Authorization": f"Bearer {target.token()}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "request body is not JSON" in error_message(response)


def test_oversized_body_is_413_by_content_length(target):
    padding = "x" * (70 * 1024)
    response = post(target.graphql_url, target.token(), {"query": READ_QUERY, "variables": {"t": padding}})
    assert response.status_code == 413
    assert error_message(response) == "request body is larger than 65536 bytes"
    assert error_code(response) == "PAYLOAD_TOO_LARGE"


def test_oversized_chunked_body_is_413(target):
    def chunks():
        for _ in range(20):
            yield b" " * 8192

    response = httpx.post(
        target.graphql_url,
        content=chunks(),
        headers={"Authorization": f"Bearer {target.token()}"},
        timeout=10,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_get_on_graphql_is_405(target):
    assert httpx.get(target.graphql_url, timeout=10).status_code == 405


def test_healthz(target):
    response = httpx.get(f"{target.base_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
