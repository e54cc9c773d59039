"""Tokens for the embedded reference target, minted from the secret the stack generated.

This is the target's published token contract (HS256; `sub`, `tenant`, `scopes`, `exp`), not
its code: against a real service the pipeline is handed a token (VP_TARGET_JWT) instead.
"""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from verification_pipeline.fileio import KEY_MAX_BYTES, read_capped

DEFAULT_SCOPES = ("coherence:read", "coherence:write")


def mint_token(
    secret_file: str | Path, tenant: str, scopes: tuple[str, ...] = DEFAULT_SCOPES, ttl_s: int = 3600
) -> str:
    path = Path(secret_file)
    secret = read_capped(path, limit=KEY_MAX_BYTES, what="the target's JWT secret").strip()
    now = int(time.time())
    claims = {
        "sub": "verification-pipeline",
        "tenant": tenant,
        "scopes": list(scopes),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
