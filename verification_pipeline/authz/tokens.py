"""The tokens the forbidden requests carry, from the environment or minted for the embedded target.

Against a service the pipeline does not run, it cannot mint tokens: the main token
(VP_TARGET_JWT) makes the cross-tenant attempts (its tenant asks for another tenant's data)
and the forged one (its claims re-signed with a key the pipeline makes up); the other kinds
need a token of their own, and a kind whose token is not given is not tried, and says so.
Token values never leave this module's records: reports carry the variable names only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

READ_ONLY_ENV = "VP_TARGET_JWT_READ_ONLY"
EXPIRED_ENV = "VP_TARGET_JWT_EXPIRED"
NEIGHBOUR_ENV = "VP_TARGET_JWT_NEIGHBOUR"


@dataclass(frozen=True)
class AuthzTokens:
    """The main token and the optional ones; `source` says where they came from (never the values)."""

    main: str = field(repr=False)
    read_only: str | None = field(default=None, repr=False)
    expired: str | None = field(default=None, repr=False)
    neighbour: str | None = field(default=None, repr=False)
    source: str = "environment"

    @classmethod
    def from_env(cls, main: str, environ: Mapping[str, str]) -> AuthzTokens:
        return cls(
            main=main,
            read_only=environ.get(READ_ONLY_ENV) or None,
            expired=environ.get(EXPIRED_ENV) or None,
            neighbour=environ.get(NEIGHBOUR_ENV) or None,
        )


def tenant_claim(token: str) -> str | None:
    """The `tenant` claim of a JWT, read without verifying it (to name the neighbour's tenant)."""
    try:
        payload = json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError):
        return None
    tenant = payload.get("tenant") if isinstance(payload, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def forge(token: str) -> str:
    """The token's header and claims signed again with a key made up here: it must not verify."""
    header_payload = token.rsplit(".", 1)[0]
    signature = hmac.new(secrets.token_bytes(32), header_payload.encode(), hashlib.sha256).digest()
    return f"{header_payload}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
