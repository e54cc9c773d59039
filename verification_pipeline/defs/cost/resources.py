"""Where the service's resource figures are read: its /metrics, and a Prometheus server."""

from urllib.parse import urlsplit, urlunsplit

import dagster as dg


class CostResource(dg.ConfigurableResource):
    """`metrics_url` (VP_TARGET_METRICS_URL; default `/metrics` beside the GraphQL URL, `off` reads
    none) and `prometheus_url` (VP_PROMETHEUS_URL; empty: no PromQL). What is read there is the
    `cost:` section of slos.yaml."""

    metrics_url: str = ""
    prometheus_url: str = ""

    def metrics_endpoint(self, graphql_url: str) -> str | None:
        if self.metrics_url == "off":
            return None
        if self.metrics_url:
            return self.metrics_url
        parts = urlsplit(graphql_url)
        return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))

    def prometheus(self) -> str | None:
        return self.prometheus_url or None
