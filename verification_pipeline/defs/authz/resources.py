"""How many forbidden requests go beside the SLO load."""

import os
from pathlib import Path

import dagster as dg

from verification_pipeline.authz.probe import Residency
from verification_pipeline.authz.tokens import AuthzTokens
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.stack.tokens import mint_token

EMBEDDED_RESIDENCY = "X-Data-Region=us-east-1"
"""The reference target keeps data in eu-west-1 and eu-central-1 (its deploy/settings.yaml)."""


class AuthzResource(dg.ConfigurableResource):
    """`rate` forbidden requests per second (all kinds together) while the load runs; 0 turns them off.

    The default, 20/s with 4 in flight, is a small share of the seed's load (tens of requests in
    flight, hundreds a second) and still gives over 1,000 attempts in the seed's 3 minutes.
    """

    rate: float = 20.0
    concurrency: int = 4
    subscriber_share: float = 0.05
    """The share of the fan-out probe's subscribers added as subscribers asking for another tenant's
    room (at least one when above 0; 0 turns them off)."""
    residency: str = ""
    """VP_TARGET_RESIDENCY, `HEADER=REGION`: the service's residency rule, a request naming REGION in
    HEADER must be refused. Empty: for the embedded target, the reference target's own rule
    (`EMBEDDED_RESIDENCY`); for another service, residency is not tried, and says so."""
    neighbour_tenant: str = ""
    """The second tenant minted tokens name (embedded target only); default `<tenant>-neighbour`."""

    def residency_rule(self, target: TargetResource) -> Residency | None:
        if self.residency:
            return Residency.parse(self.residency)
        embedded = not os.environ.get(target.jwt_env) and target.jwt_secret_file
        return Residency.parse(EMBEDDED_RESIDENCY) if embedded else None

    def tokens(self, target: TargetResource) -> AuthzTokens:
        """Tokens handed to us (VP_TARGET_JWT and VP_TARGET_JWT_*), else all kinds minted from the target's secret."""
        if not os.environ.get(target.jwt_env) and target.jwt_secret_file:
            return minted_tokens(
                target.jwt_secret_file, target.tenant, self.neighbour_tenant or f"{target.tenant}-neighbour"
            )
        return AuthzTokens.from_env(target.token(), os.environ)


def minted_tokens(secret_file: str | Path, tenant: str, neighbour_tenant: str) -> AuthzTokens:
    """Every kind's token, for a target whose secret we hold (the embedded stack, tests)."""
    return AuthzTokens(
        main=mint_token(secret_file, tenant),
        read_only=mint_token(secret_file, tenant, scopes=("coherence:read",)),
        expired=mint_token(secret_file, tenant, ttl_s=-60),
        neighbour=mint_token(secret_file, neighbour_tenant),
        source="minted from the target's secret",
    )
