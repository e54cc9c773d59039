"""The service under test: its GraphQL URL and how we authenticate to it."""

import dagster as dg

from verification_pipeline.errors import ConfigError
from verification_pipeline.stack.tokens import mint_token


class TargetResource(dg.ConfigurableResource):
    """Either a token handed to us (a real service), or the embedded target's secret to mint one."""

    graphql_url: str
    jwt: str = ""
    jwt_secret_file: str = ""
    tenant: str = "tenant-123"

    def token(self) -> str:
        if self.jwt:
            return self.jwt
        if self.jwt_secret_file:
            return mint_token(self.jwt_secret_file, self.tenant)
        raise ConfigError(
            "no credentials for the target",
            field="VP_TARGET_JWT",
            hint="set VP_TARGET_JWT to a token with coherence:read and coherence:write, or run the embedded stack",
        )

    def label(self) -> str:
        """What the target is, for metadata and run tags (never the token)."""
        return self.graphql_url
