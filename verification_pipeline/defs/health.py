"""Measurement health in the Dagster layer: sample a phase, record it on the output, read it back.

Each measuring step (a k6 segment, the fan-out probe) samples its client while it runs
(`health.sampler`) and puts the phase record (`health.assess.phase_record`) in its output's
metadata under `measurement_health`; `slo_metrics` reads those records from the latest
materializations of this partition and signs them, assessed, in `slo/metrics.json`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from verification_pipeline.defs.materializations import latest_record, materialization
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.health.sampler import HealthSampler, local_listener_pid

HEALTH_METADATA = "measurement_health"
# The steps that measure, whose phase records `slo_metrics` signs.
HEALTH_ASSETS = ["read_load_samples", "write_load_samples", "fanout_latencies"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def phase_sampler(
    target: TargetResource, clients: list[int], *, with_descendants: bool = True
) -> HealthSampler:
    """A sampler of `clients` (more can be added), and of the target when it listens on this host.

    `with_descendants` False for a client in this process: the demo's process also started the
    embedded stack, whose target must not count as the client."""
    parts = urlsplit(target.graphql_url)
    local = parts.hostname in LOOPBACK
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return HealthSampler(
        list(clients),
        target_pid=local_listener_pid(port) if local else None,
        with_descendants=with_descendants,
    )


def health_metadata(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Output metadata carrying a step's phase records (one per k6 script and segment, or the probe)."""
    return {HEALTH_METADATA: dg.MetadataValue.json(phases)}


def recorded_phases(context: dg.AssetExecutionContext, assets: list[str]) -> list[dict[str, Any]] | None:
    """The phase records of the latest materializations of `assets` for this partition.

    None when none of them recorded any (an import of CI's files, or a run from before): the
    metrics then carry no health section rather than an empty one that would read as healthy.
    """
    phases: list[dict[str, Any]] = []
    found = False
    for asset in assets:
        record = latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
        if record is None:
            continue
        value = materialization(record).metadata.get(HEALTH_METADATA)
        if value is not None and isinstance(value.value, list):
            found = True
            phases.extend(phase for phase in value.value if isinstance(phase, dict))
    return phases if found else None
