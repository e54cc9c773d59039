"""Tokens for the embedded reference target, minted from the secret the stack generated.

This is the target's published token contract (HS256; `sub`, `tenant`, `scopes`, `exp`), not
its code: against a real service the pipeline is handed a token (VP_TARGET_JWT) instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from verification_pipeline.errors import ConfigError

DEFAULT_SCOPES = ("coherence:read", "coherence:write")


def mint_token(
    secret_file: str | Path, tenant: str, scopes: tuple[str, ...] = DEFAULT_SCOPES, ttl_s: int = 3600
) -> str:
    path = Path(secret_file)
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the target's JWT secret: {exc.strerror}", source=str(path)) from None
    now = int(time.time())
    claims = {
        "sub": "verification-pipeline",
        "tenant": tenant,
        "scopes": list(scopes),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
