"""The target's two commands, `serve` and `token`, as typer functions.

Defined here once and used twice: by `python -m reference_target` (serve only)
and by `verification-pipeline target serve|token`. Heavy imports (uvicorn, ariadne,
socketio) happen inside `serve`, so loading the CLI stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reference_target.tenant_limits import DEFAULT_TENANT_RPS_LIMIT, DEFAULT_UNMETERED_TENANTS
from verification_pipeline.errors import UsageError

_FAULTS = "Fault injection (also changeable at runtime: POST /admin/faults)"
_LIMITS = "Limits"


# Long only by its options (each a typed, documented flag); the body is one straight line: parse the
# faults, build the config, serve. Split, it would only hide that.
def serve(
    jwt_secret_file: Annotated[
        Path, typer.Option(help="File holding the HS256 key (>= 32 bytes) that tokens are verified with.")
    ],
    host: Annotated[
        str, typer.Option(help="Address to listen on; keep loopback unless you mean it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one (see --ready-file).")] = 4000,
    admin_token_file: Annotated[
        Path | None,
        typer.Option(help="File holding the X-Admin-Token for /admin/faults; without it that API is off."),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(help="Write host, port, pid, base_url and graphql_url here (JSON) once serving."),
    ] = None,
    read_latency_ms: Annotated[
        str | None,
        typer.Option(
            help="Added read latency: '50', 'uniform:10:80' or 'normal:50:10'.", rich_help_panel=_FAULTS
        ),
    ] = None,
    write_latency_ms: Annotated[
        str | None,
        typer.Option(
            help="Added write latency, before storage (shows in ingest time).", rich_help_panel=_FAULTS
        ),
    ] = None,
    error_rate: Annotated[
        float,
        typer.Option(help="Share of GraphQL requests answered HTTP 500 (0..1).", rich_help_panel=_FAULTS),
    ] = 0.0,
    graphql_error_rate: Annotated[
        float, typer.Option(help="Share answered 200 with a GraphQL error (0..1).", rich_help_panel=_FAULTS)
    ] = 0.0,
    fanout_delay_ms: Annotated[
        str | None,
        typer.Option(
            help="Delay before each event is emitted, same syntax as latencies.", rich_help_panel=_FAULTS
        ),
    ] = None,
    drop_event_rate: Annotated[
        float, typer.Option(help="Share of events never emitted (0..1).", rich_help_panel=_FAULTS)
    ] = 0.0,
    rps_limit: Annotated[
        float | None,
        typer.Option(help="GraphQL requests per second before 429 + Retry-After.", rich_help_panel=_FAULTS),
    ] = None,
    cross_tenant_leak_rate: Annotated[
        float,
        typer.Option(
            help="Share of requests for another tenant let through (0..1).", rich_help_panel=_FAULTS
        ),
    ] = 0.0,
    cross_tenant_race_rate: Annotated[
        float,
        typer.Option(
            help="The same, only while many requests are in flight: a race (0..1).", rich_help_panel=_FAULTS
        ),
    ] = 0.0,
    limiter_queues: Annotated[
        bool,
        typer.Option(
            help="A tenant past its rate limit waits instead of being refused (an unbounded queue).",
            rich_help_panel=_FAULTS,
        ),
    ] = False,
    shed_with_503: Annotated[
        bool,
        typer.Option(
            help="A tenant past its rate limit gets 503 without Retry-After, not 429.",
            rich_help_panel=_FAULTS,
        ),
    ] = False,
    tenant_rps_limit: Annotated[
        float,
        typer.Option(
            help="GraphQL requests per second per tenant before 429 + Retry-After (slos.yaml's "
            "cost_controls.tenant_rps_limit); 0 turns it off.",
            rich_help_panel=_LIMITS,
        ),
    ] = DEFAULT_TENANT_RPS_LIMIT,
    unmetered_tenant: Annotated[
        list[str] | None,
        typer.Option(
            help="A tenant without a per-tenant limit (repeatable; default: the seed's load tenant, tenant-123).",
            rich_help_panel=_LIMITS,
        ),
    ] = None,
    cpu_burn_ms: Annotated[
        float,
        typer.Option(
            help="CPU ms spent on every admitted GraphQL request (cost per request).", rich_help_panel=_FAULTS
        ),
    ] = 0.0,
    max_inflight: Annotated[
        int, typer.Option(help="GraphQL requests in the server at once before 429.", rich_help_panel=_LIMITS)
    ] = 100,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body; larger gets 413.", rich_help_panel=_LIMITS)
    ] = 65536,
    max_connections: Annotated[
        int,
        typer.Option(
            help="Open connections (HTTP + Socket.IO) before uvicorn answers 503.", rich_help_panel=_LIMITS
        ),
    ] = 4096,
    max_tenants: Annotated[
        int, typer.Option(help="Tenants kept in memory (LRU).", rich_help_panel=_LIMITS)
    ] = 10_000,
    max_signals_per_tenant: Annotated[
        int, typer.Option(help="Newest signals kept per tenant.", rich_help_panel=_LIMITS)
    ] = 1_000,
    allowed_regions: Annotated[
        str,
        typer.Option(
            help="Residency: regions an X-Data-Region header may name (comma-separated); '' turns the rule off.",
            rich_help_panel=_LIMITS,
        ),
    ] = "eu-west-1,eu-central-1",
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "warning",
    build_commit: Annotated[
        str | None,
        typer.Option(help="The git commit this build was made from, reported on GET /version."),
    ] = None,
) -> None:
    """Serve the reference target: GraphQL at /graphql, Socket.IO at /socket.io, /metrics, /healthz."""
    from reference_target.config import TargetConfig, read_admin_token, read_jwt_secret
    from reference_target.faults import FaultSettings
    from reference_target.server import serve as run_server
    from verification_pipeline.fileio import check_output_file

    if ready_file is not None:
        check_output_file(ready_file, what="--ready-file")  # refused now, not after the server started
    faults = FaultSettings.parse(
        {
            "read_latency_ms": read_latency_ms,
            "write_latency_ms": write_latency_ms,
            "error_rate": error_rate,
            "graphql_error_rate": graphql_error_rate,
            "fanout_delay_ms": fanout_delay_ms,
            "drop_event_rate": drop_event_rate,
            "rps_limit": rps_limit,
            "cross_tenant_leak_rate": cross_tenant_leak_rate,
            "cross_tenant_race_rate": cross_tenant_race_rate,
            "limiter_queues": limiter_queues,
            "shed_with_503": shed_with_503,
            "cpu_burn_ms": cpu_burn_ms,
        },
        source="command line",
    )
    config = TargetConfig(
        jwt_secret=read_jwt_secret(jwt_secret_file),
        admin_token=read_admin_token(admin_token_file) if admin_token_file else None,
        host=host,
        port=port,
        faults=faults,
        max_inflight=max_inflight,
        max_body_bytes=max_body_bytes,
        max_connections=max_connections,
        max_tenants=max_tenants,
        max_signals_per_tenant=max_signals_per_tenant,
        ready_file=ready_file,
        log_level=log_level,
        build_commit=build_commit,
        tenant_rps_limit=tenant_rps_limit or None,
        unmetered_tenants=DEFAULT_UNMETERED_TENANTS
        if unmetered_tenant is None
        else tuple(t for t in unmetered_tenant if t),
        allowed_regions=tuple(region.strip() for region in allowed_regions.split(",") if region.strip()),
    )
    run_server(config)


MAX_TTL_S = 366 * 24 * 3600  # a test token outliving a year is a mistake, not a need


def token(
    secret_file: Annotated[
        Path, typer.Option(help="File holding the target's HS256 key (its --jwt-secret-file).")
    ],
    tenant: Annotated[str, typer.Option(help="The one tenant the token reaches.")] = "tenant-123",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes: coherence:read, coherence:write.")
    ] = "coherence:read,coherence:write",
    ttl: Annotated[
        int, typer.Option(min=1, max=MAX_TTL_S, metavar="SECONDS", help="Seconds until the token expires.")
    ] = 3600,
) -> None:
    """Print a JWT for the reference target (HS256, one tenant, the given scopes)."""
    from reference_target.config import read_jwt_secret
    from reference_target.tokens import mint_token

    scope_list = [scope.strip() for scope in scopes.split(",") if scope.strip()]
    if not scope_list:
        raise UsageError("--scopes names no scope", hint="e.g. --scopes coherence:read")
    typer.echo(mint_token(read_jwt_secret(secret_file), tenant, scope_list, ttl_s=ttl))
