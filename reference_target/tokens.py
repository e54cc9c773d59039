"""JWTs for the reference target: minted for tests and demos, verified on every request.

HS256 only: the algorithm is pinned on verification, so `alg: none` or an algorithm switch
in the header is refused rather than negotiated. A token names exactly one tenant ("*" is
refused) and carries its scopes; `exp` is required. Messages say why a token was refused and
never contain the token.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from verification_pipeline.errors import InputError, shown

ALGORITHM = "HS256"
READ_SCOPE = "coherence:read"
WRITE_SCOPE = "coherence:write"
KNOWN_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE})
# RFC 7518 3.2: an HS256 key must be at least as long as the hash output.
MIN_SECRET_BYTES = 32
_REQUIRED_CLAIMS = ["exp", "sub", "tenant", "scopes"]


class TokenRejected(Exception):
    """A bearer token that does not authenticate anyone; the message says why (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token allows: one tenant, some scopes, until `expires_at` (epoch s)."""

    subject: str
    tenant: str
    scopes: frozenset[str]
    expires_at: float

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def mint_token(secret: bytes, tenant: str, scopes: list[str], ttl_s: int = 3600) -> str:
    """A signed HS256 token for `tenant` with `scopes`, expiring `ttl_s` from now (negative: expired)."""
    if tenant == "*" or not tenant:
        raise InputError("a token names exactly one tenant; '*' and '' are not allowed", field="tenant")
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise InputError(
            f"unknown scope(s) {', '.join(shown(scope) for scope in sorted(unknown))}",
            field="scopes",
            hint=f"known: {', '.join(sorted(KNOWN_SCOPES))}",
        )
    now = int(time.time())
    payload = {
        "sub": f"{tenant}-client",
        "tenant": tenant,
        "scopes": list(scopes),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies bearer tokens; remembers recent good ones so load tests don't pay for HMAC each time.

    The cache maps a token string to its verified claims, so a hit is exactly as trustworthy as
    a fresh verification; expiry is still checked on every use. It is bounded (LRU).
    """

    def __init__(self, secret: bytes, *, cache_size: int = 1024) -> None:
        self._secret = secret
        self._cache: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0
        """Cache lookups so far (`coherence_token_cache_lookups_total`): what the cost evidence reads."""

    def verify(self, token: str) -> Claims:
        claims = self._cache.get(token)
        if claims is not None:
            self.cache_hits += 1
        else:
            self.cache_misses += 1
            claims = self._decode(token)
            self._cache[token] = claims
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if claims.expires_at <= time.time():
            self._cache.pop(token, None)
            raise TokenRejected("token has expired; mint a new one")
        return claims

    def _decode(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected(
                "token is not a well-formed JWT (expected header.payload.signature)"
            ) from None
        if header.get("alg") != ALGORITHM:
            raise TokenRejected(f"token algorithm {header.get('alg')!r} is not accepted; only {ALGORITHM} is")
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": _REQUIRED_CLAIMS}
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token has expired; mint a new one") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature does not verify with this server's key") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejected(f"token lacks the required {error.claim!r} claim") from None
        except jwt.InvalidTokenError as error:
            raise TokenRejected(f"token is invalid: {error}") from None
        return _claims_from(payload)


def _claims_from(payload: dict) -> Claims:
    tenant = payload["tenant"]
    if not isinstance(tenant, str) or not tenant:
        raise TokenRejected("token 'tenant' claim must be a non-empty string")
    if tenant == "*":
        raise TokenRejected("token 'tenant' claim '*' is not allowed; a token names one tenant")
    scopes = payload["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise TokenRejected("token 'scopes' claim must be a list of strings")
    expires_at = payload["exp"]
    if not isinstance(expires_at, (int, float)):
        raise TokenRejected("token 'exp' claim must be a number")
    return Claims(
        subject=str(payload["sub"]),
        tenant=tenant,
        scopes=frozenset(scopes),
        expires_at=float(expires_at),
    )
