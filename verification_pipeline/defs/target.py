"""The service under test: its GraphQL URL and how we authenticate to it."""

import os
from urllib.parse import urlsplit, urlunsplit

import dagster as dg

from verification_pipeline.errors import ConfigError
from verification_pipeline.stack.tokens import mint_token


class TargetResource(dg.ConfigurableResource):
    """Either a token handed to us (a real service), or the embedded target's secret to mint one.

    The token is read from the environment variable named by `jwt_env` when it is needed, so
    it never becomes resource config, which the UI would display.
    """

    graphql_url: str
    jwt_env: str = "VP_TARGET_JWT"
    jwt_secret_file: str = ""
    tenant: str = "tenant-123"
    version_url: str = ""
    """Where the service reports the commit it was built from; default `/version` beside /graphql."""
    version_field: str = "commit"
    """The JSON field of that answer holding the commit."""
    version_header: str = ""
    """Read the commit from this response header instead of a JSON field."""

    def token(self) -> str:
        if token := os.environ.get(self.jwt_env):
            return token
        if self.jwt_secret_file:
            return mint_token(self.jwt_secret_file, self.tenant)
        raise ConfigError(
            "no credentials for the target",
            field="VP_TARGET_JWT",
            hint="set VP_TARGET_JWT to a token with coherence:read and coherence:write, or run the embedded stack",
        )

    # --- the concurrent baseline (issue 24): a second service measured in the same run ----------
    baseline_graphql_url: str = ""
    """The baseline RC's deployment (VP_BASELINE_GRAPHQL_URL); empty: no concurrent baseline."""
    baseline_jwt_env: str = "VP_BASELINE_JWT"
    """Names the variable holding the baseline's token; unset, the target's own credentials are used."""
    baseline_rc: str = ""
    """Which RC the baseline deployment runs (VP_BASELINE_RC), said in slo/baseline.json."""

    def baseline_token(self) -> str:
        """A token for the baseline deployment: its own variable, else the target's credentials."""
        return os.environ.get(self.baseline_jwt_env) or self.token()

    def version_endpoint(self) -> str:
        if self.version_url:
            return self.version_url
        parts = urlsplit(self.graphql_url)
        return urlunsplit((parts.scheme, parts.netloc, "/version", "", ""))

    def label(self) -> str:
        """What the target is, for metadata and run tags (never the token)."""
        return self.graphql_url
