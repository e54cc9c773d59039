"""The GraphQL schema (ariadne, from schema.graphql), its resolvers, and a cache of parsed queries.

Load tests send the same few query texts thousands of times, so each distinct text is parsed
and validated once (`DocumentCache`) and ariadne executes the cached document. Resolvers
enforce tenant isolation; the HTTP layer has already checked the token and the scope the
operation needs. Errors a client caused carry `extensions.code` (FORBIDDEN, BAD_USER_INPUT),
which the HTTP layer turns into a status; anything else is an internal error whose details
stay in the server log.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from time import perf_counter
from typing import Any

from ariadne import MutationType, QueryType, make_executable_schema
from ariadne.utils import unwrap_graphql_error
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate

from reference_target.store import CoherenceEvent, CoherenceStore, TenantCoherence
from reference_target.tokens import Claims

FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
MAX_TEXT_CHARS = 256

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RequestContext:
    """Per request: who is asking, where to store, and what the write path measured."""

    claims: Claims
    store: CoherenceStore
    started: float
    ingest_ms: float | None = None
    published: CoherenceEvent | None = None
    cross_tenant_fault: bool = False
    """An injected authorization fault lets this request reach another tenant (tests only)."""


def _forbid_other_tenant(context: RequestContext, tenant_id: str, verb: str) -> None:
    claims = context.claims
    if tenant_id != claims.tenant and not context.cross_tenant_fault:
        raise GraphQLError(
            f"token for tenant {claims.tenant!r} may not {verb} tenant {tenant_id!r}",
            extensions={"code": FORBIDDEN},
        )


def _bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT})


query = QueryType()
mutation = MutationType()


@query.field("tenantCoherence")
def resolve_tenant_coherence(_: Any, info: Any, tenant_id: str) -> TenantCoherence:
    context: RequestContext = info.context
    _forbid_other_tenant(context, tenant_id, "read")
    return context.store.coherence(tenant_id)


@mutation.field("publishCoherenceSignal")
def resolve_publish_coherence_signal(_: Any, info: Any, input: dict[str, Any]) -> str:
    context: RequestContext = info.context
    tenant_id = input["tenant_id"]
    _forbid_other_tenant(context, tenant_id, "write to")
    for name in ("tenant_id", "type", "source", "ts"):
        if len(input[name]) > MAX_TEXT_CHARS:
            raise _bad_input(f"input.{_camel(name)} is longer than {MAX_TEXT_CHARS} characters")
    t0_ms = epoch_ms(input["ts"])
    context.ingest_ms = (perf_counter() - context.started) * 1000.0
    event = context.store.append(
        tenant_id, input["type"], input["value"], input["source"], input["ts"], t0_ms
    )
    context.published = event
    return event.id


def epoch_ms(ts: str) -> float:
    """Epoch milliseconds of an ISO 8601 timestamp with a UTC offset or 'Z'."""
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        raise _bad_input(
            f"input.ts {ts!r} is not an ISO 8601 timestamp (e.g. 2025-01-31T12:00:00.000Z)"
        ) from None
    if moment.tzinfo is None:
        raise _bad_input(f"input.ts {ts!r} has no UTC offset; end it with 'Z' or '+00:00'")
    return moment.timestamp() * 1000.0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def build_schema() -> GraphQLSchema:
    type_defs = resources.files("reference_target").joinpath("schema.graphql").read_text()
    return make_executable_schema(type_defs, query, mutation, convert_names_case=True)


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A query text parsed and validated against the schema: the document, or why it is not valid."""

    document: DocumentNode | None
    errors: list[GraphQLError] = field(default_factory=list)


class DocumentCache:
    """Parses and validates each distinct query text once; LRU-bounded, short texts only."""

    def __init__(self, schema: GraphQLSchema, *, max_entries: int = 256, max_query_chars: int = 8192) -> None:
        self._schema = schema
        self._entries: OrderedDict[str, PreparedDocument] = OrderedDict()
        self._max_entries = max_entries
        self._max_query_chars = max_query_chars

    def prepare(self, query_text: str) -> PreparedDocument:
        prepared = self._entries.get(query_text)
        if prepared is not None:
            self._entries.move_to_end(query_text)
            return prepared
        prepared = self._prepare(query_text)
        if len(query_text) <= self._max_query_chars:
            self._entries[query_text] = prepared
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return prepared

    def _prepare(self, query_text: str) -> PreparedDocument:
        try:
            document = parse(query_text)
        except GraphQLError as error:
            return PreparedDocument(None, [error])
        errors = validate(self._schema, document)
        return PreparedDocument(None if errors else document, list(errors))


def already_validated(*_: Any, **__: Any) -> list[GraphQLError]:
    """ariadne's `query_validator` for documents that came out of the DocumentCache valid."""
    return []


def format_error(error: GraphQLError, debug: bool = False) -> dict:
    """ariadne's `error_formatter`: a client sees the message of what it did wrong, never internals."""
    original = unwrap_graphql_error(error)
    if original is not None and original is not error and not isinstance(original, GraphQLError):
        log.error("resolver failed at %s", error.path, exc_info=original)
        return {
            "message": "internal error; see the server log",
            "path": error.path,
            "extensions": {"code": INTERNAL},
        }
    formatted = dict(error.formatted)
    if "extensions" not in formatted:
        # graphql-core's own execution errors (e.g. a variable of the wrong type) are the client's.
        formatted["extensions"] = {"code": BAD_USER_INPUT}
    return formatted


class SilentErrorLog(logging.LoggerAdapter):
    """ariadne's `logger`: it logs every GraphQL error with a traceback, even a client's mistake.

    `format_error` logs the internal ones already, so ariadne's copies are dropped.
    """

    def error(self, *args: Any, **kwargs: Any) -> None:
        return None
