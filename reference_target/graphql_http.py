"""POST /graphql: the hot path, as a plain ASGI app so a request costs as little as possible.

Order of checks, each answered with a GraphQL-shaped error body (`{"errors": [{"message",
"extensions": {"code"}}]}`) and a status, never a 500 for a client's mistake:

1. admission (in-flight and RPS limits) -> 429 + Retry-After; then a turn (limiter.TurnGate)
2. body size -> 413; then the bearer token -> 401
3. JSON and GraphQL syntax/validation -> 400
4. scope for the operation (query: coherence:read, mutation: coherence:write) -> 403
5. injected faults (HTTP 500, latency, GraphQL error under 200)
6. execution (ariadne); a tenant other than the token's -> 403, bad input -> 400

Writes answer with `Server-Timing: ingest;dur=<ms>`: arrival to just before storage.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from time import perf_counter, thread_time
from typing import Any

from ariadne import graphql_sync
from graphql import GraphQLSchema, OperationType, get_operation_ast

from reference_target.faults import FaultInjector
from reference_target.graphql_api import (
    BAD_USER_INPUT,
    FORBIDDEN,
    INTERNAL,
    DocumentCache,
    RequestContext,
    SilentErrorLog,
    already_validated,
    format_error,
)
from reference_target.limiter import REFUSAL_PACING_S, AdmissionControl, TurnGate
from reference_target.metrics import TargetMetrics
from reference_target.realtime import Realtime
from reference_target.store import CoherenceEvent, CoherenceStore
from reference_target.tenant_limits import VERIFIED_CLAIMS, TenantLimiter
from reference_target.tokens import READ_SCOPE, WRITE_SCOPE, Claims, TokenRejected, TokenVerifier

log = logging.getLogger(__name__)

_JSON = (b"content-type", b"application/json")
_SCOPE_FOR = {"read": READ_SCOPE, "write": WRITE_SCOPE}
_STATUS_KIND = {400: "bad_request", 403: "forbidden", 500: "internal"}


@dataclass(slots=True)
class Answer:
    """One response, and what the metrics and the fan-out need to know about it."""

    status: int
    body: bytes
    operation: str = "unknown"
    error_kind: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    published: CoherenceEvent | None = None


class _Refused(Exception):
    """Stops handling a request early with `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer


def error_answer(
    status: int,
    message: str,
    code: str,
    kind: str,
    *,
    operation: str = "unknown",
    headers: list | None = None,
) -> Answer:
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, separators=(",", ":")
    ).encode()
    return Answer(status, body, operation, kind, headers or [])


class GraphQLEndpoint:
    """The ASGI app behind POST /graphql."""

    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        documents: DocumentCache,
        verifier: TokenVerifier,
        store: CoherenceStore,
        faults: FaultInjector,
        admission: AdmissionControl,
        turns: TurnGate,
        metrics: TargetMetrics,
        realtime: Realtime,
        max_body_bytes: int,
        tenant_limits: TenantLimiter | None = None,
        allowed_regions: tuple[str, ...] = (),
    ) -> None:
        self._schema = schema
        self._documents = documents
        self._verifier = verifier
        self._store = store
        self._faults = faults
        self._admission = admission
        self._turns = turns
        self._metrics = metrics
        self._realtime = realtime
        self._max_body_bytes = max_body_bytes
        self._allowed_regions = frozenset(allowed_regions)
        self._ariadne_log = SilentErrorLog(log, {})
        self._tenant_limits = tenant_limits

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        started = perf_counter()
        # a tenant past its own share first (tenant_limits), then the service's global limits
        refusal = await self._tenant_limits.admit(scope) if self._tenant_limits else None
        refusal = refusal or self._admission.admit()
        if refusal is not None:
            await asyncio.sleep(REFUSAL_PACING_S)
            answer = error_answer(
                refusal.status,
                refusal.message,
                "TOO_MANY_REQUESTS",
                refusal.kind,
                headers=[(b"retry-after", str(refusal.retry_after_s).encode())]
                if refusal.status == 429
                else [],
            )
        else:
            try:
                await self._turns.wait_turn()
                answer = await self._answer(scope, receive, started)
            except _Refused as refused:
                answer = refused.answer
            except Exception:
                log.exception("GraphQL request failed")
                answer = error_answer(500, "internal error; see the server log", INTERNAL, "internal")
            finally:
                self._admission.release()
        headers = [_JSON, (b"content-length", str(len(answer.body)).encode()), *answer.headers]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        self._metrics.observe_request(
            answer.operation, answer.status, perf_counter() - started, answer.error_kind
        )
        if answer.published is not None:
            await self._realtime.publish(answer.published, started)

    async def _answer(self, scope: dict, receive: Any, started: float) -> Answer:
        authorization, content_length = _headers(scope)
        body = await self._read_body(receive, content_length)
        claims = scope.get(VERIFIED_CLAIMS) or self._authenticate(authorization)
        request = _graphql_request(body)
        prepared = self._documents.prepare(request["query"])
        if prepared.document is None:
            message = "; ".join(error.message for error in prepared.errors)
            raise _Refused(
                error_answer(400, f"invalid GraphQL: {message}", "GRAPHQL_VALIDATION_FAILED", "bad_request")
            )
        operation = _operation(prepared.document, request.get("operationName"))
        scope_needed = _SCOPE_FOR[operation]
        if not claims.allows(scope_needed):
            raise _Refused(
                error_answer(
                    403,
                    f"token lacks the {scope_needed!r} scope needed for a {operation}",
                    FORBIDDEN,
                    "forbidden",
                    operation=operation,
                )
            )
        self._check_residency(scope, operation)
        await self._inject_faults(operation)
        context = RequestContext(
            claims,
            self._store,
            started,
            cross_tenant_fault=self._faults.cross_tenant_leak(self._admission.inflight),
        )
        _, result = graphql_sync(
            self._schema,
            request,
            context_value=context,
            query_document=prepared.document,
            query_validator=already_validated,
            error_formatter=format_error,
            logger=self._ariadne_log,
        )
        status = _status_of(result)
        headers = []
        if context.ingest_ms is not None:
            headers.append((b"server-timing", f"ingest;dur={context.ingest_ms:.3f}".encode()))
            self._metrics.ingest.observe(context.ingest_ms / 1000.0)
        return Answer(
            status,
            json.dumps(result, separators=(",", ":")).encode(),
            operation,
            _STATUS_KIND.get(status),
            headers,
            context.published,
        )

    async def _read_body(self, receive: Any, content_length: int | None) -> bytes:
        limit = self._max_body_bytes
        if content_length is not None and content_length > limit:
            raise _Refused(_too_large(limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(
                    error_answer(
                        400, "client disconnected before sending the body", "BAD_REQUEST", "bad_request"
                    )
                )
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refused(_too_large(limit))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _authenticate(self, authorization: bytes | None) -> Claims:
        if not authorization or authorization[:7].lower() != b"bearer ":
            raise _Refused(_unauthenticated("missing bearer token: send 'Authorization: Bearer <JWT>'"))
        try:
            return self._verifier.verify(authorization[7:].strip().decode("latin-1"))
        except TokenRejected as rejection:
            raise _Refused(_unauthenticated(str(rejection))) from None

    def _check_residency(self, scope: dict, operation: str) -> None:
        """A request asking for its data in a region the service may not keep it in is refused."""
        if not self._allowed_regions:
            return
        for name, value in scope["headers"]:
            if name == REGION_HEADER and value.decode("latin-1").strip() not in self._allowed_regions:
                allowed = ", ".join(sorted(self._allowed_regions))
                raise _Refused(
                    error_answer(
                        403,
                        f"residency: this service keeps data in {allowed} only",
                        FORBIDDEN,
                        "forbidden",
                        operation=operation,
                    )
                )

    async def _inject_faults(self, operation: str) -> None:
        if self._faults.http_error():
            raise _Refused(
                error_answer(
                    500, "injected fault: error_rate", "INJECTED_FAULT", "injected", operation=operation
                )
            )
        delay_ms = self._faults.added_latency_ms(operation)  # type: ignore[arg-type]
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000.0)
        burn_s = self._faults.cpu_burn_s()
        if burn_s:
            _spin(burn_s)
        if self._faults.graphql_error():
            answer = error_answer(
                200, "injected fault: graphql_error_rate", "INJECTED_FAULT", "injected_graphql"
            )
            answer.operation = operation
            raise _Refused(answer)


REGION_HEADER = b"x-data-region"


def _spin(cpu_s: float) -> None:
    """Busy-wait until this thread has used `cpu_s` more CPU seconds (the cpu_burn_ms fault)."""
    until = thread_time() + cpu_s
    while thread_time() < until:
        pass


def _headers(scope: dict) -> tuple[bytes | None, int | None]:
    authorization = None
    content_length = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                raise _Refused(
                    error_answer(400, "Content-Length is not a number", "BAD_REQUEST", "bad_request")
                ) from None
    return authorization, content_length


def _graphql_request(body: bytes) -> dict:
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise _Refused(
            error_answer(400, f"request body is not JSON: {error}", "BAD_REQUEST", "bad_request")
        ) from None
    problem = None
    if not isinstance(request, dict):
        problem = 'the body must be a JSON object like {"query": "...", "variables": {...}}'
    elif not isinstance(request.get("query"), str) or not request["query"].strip():
        problem = "'query' must be a non-empty string"
    elif not isinstance(request.get("variables"), (dict, type(None))):
        problem = "'variables' must be an object or null"
    elif not isinstance(request.get("operationName"), (str, type(None))):
        problem = "'operationName' must be a string or null"
    if problem:
        raise _Refused(error_answer(400, problem, "BAD_REQUEST", "bad_request"))
    return request


def _operation(document: Any, operation_name: str | None) -> str:
    operation_ast = get_operation_ast(document, operation_name)
    if operation_ast is None:
        message = (
            f"no operation named {operation_name!r} in the query"
            if operation_name
            else "the query holds several operations; name one in 'operationName'"
        )
        raise _Refused(error_answer(400, message, "BAD_REQUEST", "bad_request"))
    if operation_ast.operation == OperationType.QUERY:
        return "read"
    if operation_ast.operation == OperationType.MUTATION:
        return "write"
    raise _Refused(
        error_answer(
            400,
            "subscriptions are not served over HTTP; subscribe to coherenceEvents over Socket.IO",
            "BAD_REQUEST",
            "bad_request",
        )
    )


def _status_of(result: dict) -> int:
    errors = result.get("errors")
    if not errors:
        return 200
    codes = {error.get("extensions", {}).get("code") for error in errors}
    if INTERNAL in codes:
        return 500
    if FORBIDDEN in codes:
        return 403
    if BAD_USER_INPUT in codes:
        return 400
    return 200


def _too_large(limit: int) -> Answer:
    return error_answer(
        413, f"request body is larger than {limit} bytes", "PAYLOAD_TOO_LARGE", "payload_too_large"
    )


def _unauthenticated(message: str) -> Answer:
    return error_answer(
        401,
        message,
        "UNAUTHENTICATED",
        "unauthenticated",
        headers=[(b"www-authenticate", b'Bearer realm="coherence"')],
    )
