"""The reference target as one ASGI app: Socket.IO at /socket.io, everything else via Starlette.

Routes: POST /graphql, GET /healthz, GET /version, GET /metrics, GET|POST|DELETE /admin/faults.
POST /graphql, the hot path, goes straight to its endpoint; the rest passes through
python-socketio's ASGI app, which hands what is not Socket.IO to Starlette.
One process on purpose: Socket.IO rooms live in this process's memory, so a second worker
would miss the events published through the first.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_target.admin import MAX_ADMIN_BODY_BYTES, FaultsAdmin
from reference_target.config import TargetConfig
from reference_target.faults import FaultInjector
from reference_target.graphql_api import DocumentCache, build_schema
from reference_target.graphql_http import GraphQLEndpoint
from reference_target.limiter import AdmissionControl, TurnGate
from reference_target.metrics import CONTENT_TYPE, TargetMetrics
from reference_target.realtime import Realtime
from reference_target.store import CoherenceStore
from reference_target.tenant_limits import TenantLimiter
from reference_target.tokens import TokenVerifier


class _Dispatch:
    """The ASGI entry: POST /graphql straight to its endpoint, everything else to `rest`."""

    def __init__(self, graphql: GraphQLEndpoint, rest: socketio.ASGIApp) -> None:
        self._graphql = graphql
        self._rest = rest

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql" and scope["method"] == "POST":
            await self._graphql(scope, receive, send)
        else:
            await self._rest(scope, receive, send)


@dataclass(frozen=True)
class TargetApp:
    """The ASGI app and the parts tests may want to look at."""

    asgi: _Dispatch
    store: CoherenceStore
    faults: FaultInjector
    admission: AdmissionControl
    metrics: TargetMetrics


def create_app(config: TargetConfig, *, on_ready: Callable[[], None] | None = None) -> TargetApp:
    """Wire the target from `config`; `on_ready` runs once the app has started."""
    metrics = TargetMetrics()
    store = CoherenceStore(
        max_tenants=config.max_tenants, max_signals_per_tenant=config.max_signals_per_tenant
    )
    faults = FaultInjector(config.faults)
    admission = AdmissionControl(max_inflight=config.max_inflight, rps_limit=config.faults.rps_limit)
    verifier = TokenVerifier(config.jwt_secret)
    realtime = Realtime(verifier, store, faults, metrics)
    graphql = _graphql_endpoint(config, verifier, store, faults, admission, metrics, realtime)
    metrics.inflight.set_function(lambda: admission.inflight)
    metrics.connections.set_function(realtime.connection_count)
    metrics.store_tenants.set_function(lambda: store.tenants_held)
    metrics.store_signals.set_function(lambda: store.signals_held)
    metrics.count_cache_lookups(lambda: (verifier.cache_hits, verifier.cache_misses))
    starlette = _starlette(config, graphql, faults, admission, realtime, metrics, on_ready)
    rest = socketio.ASGIApp(realtime.sio, other_asgi_app=starlette, socketio_path="socket.io")
    return TargetApp(_Dispatch(graphql, rest), store, faults, admission, metrics)


def _graphql_endpoint(
    config: TargetConfig,
    verifier: TokenVerifier,
    store: CoherenceStore,
    faults: FaultInjector,
    admission: AdmissionControl,
    metrics: TargetMetrics,
    realtime: Realtime,
) -> GraphQLEndpoint:
    """`/graphql`: the schema, its parsed-document cache, and the per-tenant limits of `config`."""
    schema = build_schema()
    return GraphQLEndpoint(
        schema=schema,
        documents=DocumentCache(schema),
        verifier=verifier,
        store=store,
        faults=faults,
        admission=admission,
        turns=TurnGate(),
        metrics=metrics,
        realtime=realtime,
        max_body_bytes=config.max_body_bytes,
        tenant_limits=TenantLimiter(
            verifier,
            faults,
            rps_limit=config.tenant_rps_limit,
            unmetered=config.unmetered_tenants,
            max_tenants=config.max_tenants,
        ),
        allowed_regions=config.allowed_regions,
    )


def _starlette(
    config: TargetConfig,
    graphql: GraphQLEndpoint,
    faults: FaultInjector,
    admission: AdmissionControl,
    realtime: Realtime,
    metrics: TargetMetrics,
    on_ready: Callable[[], None] | None,
) -> Starlette:
    """The HTTP routes beside Socket.IO: GraphQL, health, version, metrics and the faults admin."""
    started_at = time.time()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "uptime_s": round(time.time() - started_at, 3),
                "inflight": admission.inflight,
                "connections": realtime.connection_count(),
                "faults_active": faults.settings.active,
            }
        )

    async def version(_: Request) -> JSONResponse:
        # the build's commit, so a verifier can show the build it measured is the RC's
        return JSONResponse({"commit": config.build_commit})

    async def prometheus(_: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if on_ready is not None:
            on_ready()
        yield

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route(
                "/admin/faults",
                FaultsAdmin(faults, admission, config.admin_token).handle,
                methods=["GET", "POST", "DELETE"],
                max_body_size=MAX_ADMIN_BODY_BYTES,
            ),
        ],
        lifespan=lifespan,
    )
