"""How long the overload phase runs, and with whose tokens."""

import os

import dagster as dg

from verification_pipeline.authz.tokens import NEIGHBOUR_ENV, tenant_claim
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.overload.k6 import OverloadTenants
from verification_pipeline.stack.tokens import mint_token

OVERLOAD_TOKEN_ENV = "VP_TARGET_JWT_OVERLOAD"


class OverloadResource(dg.ConfigurableResource):
    """`duration_s` / `recovery_s` override slos.yaml's (0: as declared); the demo shortens them to
    keep `make demo` short, and the document records what ran. `enabled: false` skips the phase
    (its gates then say NOT MEASURED, a WARN)."""

    enabled: bool = True
    duration_s: float = 0.0
    recovery_s: float = 0.0

    def tenants(self, target: TargetResource) -> tuple[OverloadTenants | None, str]:
        """Tenant A's and B's tokens and where they came from; None and why when they cannot be had.

        For the embedded target (its secret held) both are minted: `<tenant>-overload` and
        `<tenant>-neighbour`. For a service we do not run: VP_TARGET_JWT_OVERLOAD (a tenant under
        the declared limit, not the SLO load's) and VP_TARGET_JWT_NEIGHBOUR.
        """
        if not os.environ.get(target.jwt_env) and target.jwt_secret_file:
            a, b = f"{target.tenant}-overload", f"{target.tenant}-neighbour"
            tokens = OverloadTenants(
                a,
                mint_token(target.jwt_secret_file, a, scopes=("coherence:read",)),
                b,
                mint_token(target.jwt_secret_file, b, scopes=("coherence:read",)),
            )
            return tokens, "minted from the target's secret"
        token_a, token_b = os.environ.get(OVERLOAD_TOKEN_ENV), os.environ.get(NEIGHBOUR_ENV)
        missing = [
            name for name, value in ((OVERLOAD_TOKEN_ENV, token_a), (NEIGHBOUR_ENV, token_b)) if not value
        ]
        if missing or token_a is None or token_b is None:
            return None, f"{' and '.join(missing)} not given"
        name_a, name_b = tenant_claim(token_a) or "tenant A", tenant_claim(token_b) or "tenant B"
        return OverloadTenants(name_a, token_a, name_b, token_b), "environment"
