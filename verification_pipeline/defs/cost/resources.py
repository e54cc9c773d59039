"""Where the service's resource figures are read: its /metrics, and a Prometheus server."""

from urllib.parse import urlsplit, urlunsplit

import dagster as dg


class CostResource(dg.ConfigurableResource):
    """`metrics_url` (VP_TARGET_METRICS_URL; default `/metrics` beside the GraphQL URL, `off` reads
    none) and `prometheus_url` (VP_PROMETHEUS_URL; empty: no PromQL). What is read there is the
    `cost:` section of slos.yaml."""

    metrics_url: str = ""
    prometheus_url: str = ""
    baseline_metrics_url: str = ""
    """The concurrent baseline deployment's (VP_BASELINE_METRICS_URL): like `metrics_url`, its default
    beside the baseline's GraphQL URL (VP_BASELINE_GRAPHQL_URL), `off` reads none."""

    def metrics_endpoint(self, graphql_url: str) -> str | None:
        return _endpoint(self.metrics_url, graphql_url)

    def baseline_metrics_endpoint(self, baseline_graphql_url: str) -> str | None:
        return _endpoint(self.baseline_metrics_url, baseline_graphql_url)

    def prometheus(self) -> str | None:
        return self.prometheus_url or None


def _endpoint(setting: str, graphql_url: str) -> str | None:
    if setting == "off":
        return None
    if setting:
        return setting
    parts = urlsplit(graphql_url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))
