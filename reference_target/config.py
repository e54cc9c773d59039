"""What the reference target needs to start, read from flags and secret files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from reference_target.faults import FaultSettings
from reference_target.tenant_limits import DEFAULT_TENANT_RPS_LIMIT, DEFAULT_UNMETERED_TENANTS
from reference_target.tokens import MIN_SECRET_BYTES
from verification_pipeline.errors import ConfigError
from verification_pipeline.fileio import KEY_MAX_BYTES, read_capped

MIN_ADMIN_TOKEN_CHARS = 16
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class TargetConfig:
    """Everything `create_app` and `serve` need. Secrets are held as values, never printed."""

    jwt_secret: bytes = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 4000
    faults: FaultSettings = field(default_factory=FaultSettings)
    max_inflight: int = 100
    max_body_bytes: int = 64 * 1024
    max_connections: int = 4096
    max_tenants: int = 10_000
    max_signals_per_tenant: int = 1_000
    ready_file: Path | None = None
    log_level: str = "warning"
    tenant_rps_limit: float | None = DEFAULT_TENANT_RPS_LIMIT
    """Requests per second per tenant before 429 + Retry-After (`tenant_limits`); None: no limit."""
    unmetered_tenants: tuple[str, ...] = DEFAULT_UNMETERED_TENANTS
    build_commit: str | None = None
    allowed_regions: tuple[str, ...] = ("eu-west-1", "eu-central-1")
    """Residency (deploy/settings.yaml): a request whose `X-Data-Region` names another region is
    refused (403); empty: no residency rule."""
    """The commit this build of the service was made from, reported on GET /version: what the
    pipeline compares with the RC's commit before it sends any load."""

    def __post_init__(self) -> None:
        for name in (
            "max_inflight",
            "max_body_bytes",
            "max_connections",
            "max_tenants",
            "max_signals_per_tenant",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if self.tenant_rps_limit is not None and not 0 < self.tenant_rps_limit <= 1e6:
            raise ConfigError(
                f"must be above 0 (0 on the command line turns it off), got {self.tenant_rps_limit:g}",
                field="tenant_rps_limit",
            )
        if self.build_commit is not None and not _COMMIT.fullmatch(self.build_commit):
            raise ConfigError(f"{self.build_commit!r} is not a full git commit id", field="build_commit")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{self.port} is not a TCP port (0 picks a free one)", field="port")


def read_jwt_secret(path: Path) -> bytes:
    """The HS256 key in `path` (surrounding whitespace dropped); at least 32 bytes."""
    secret = _read(path, "jwt-secret-file").strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the JWT secret is {len(secret)} bytes; HS256 needs at least {MIN_SECRET_BYTES}",
            source=str(path),
            hint="generate one with: python -c 'import secrets; print(secrets.token_hex(32))'",
        )
    return secret


def read_admin_token(path: Path) -> str:
    """The token `/admin/faults` requires in `X-Admin-Token`; at least 16 characters."""
    try:
        token = _read(path, "admin-token-file").decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(
            "the admin token must be ASCII (it travels in an HTTP header)", source=str(path)
        ) from None
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(
            f"the admin token is {len(token)} characters; use at least {MIN_ADMIN_TOKEN_CHARS}",
            source=str(path),
        )
    return token


def _read(path: Path, flag: str) -> bytes:
    return read_capped(path, limit=KEY_MAX_BYTES, what=f"--{flag}", error=ConfigError)
