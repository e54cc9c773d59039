"""Resource figures read around a load phase, kept beside the run for `cost_per_request`.

Any phase's step wraps its load in `resources_during(..., phase=...)`; the rows go to the store
under the run, one file per phase, and the asset reads whatever phases the run has.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import dagster as dg

from verification_pipeline.cost.sampling import PhaseSampler, baseline_sampler, reading, rows_of
from verification_pipeline.cost.spec import CostPolicy
from verification_pipeline.defs.cost.resources import CostResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.storage.serialize import encode

SAMPLES_FOLDER = "cost-samples"


def samples_prefix(s3: S3Resource, partition: str, run_id: str) -> str:
    return s3.store().key(partition, SAMPLES_FOLDER, run_id) + "/"


@contextlib.contextmanager
def resources_during(
    context: dg.OpExecutionContext,
    target: TargetResource,
    cost: CostResource,
    s3: S3Resource,
    policy: CostPolicy,
    *,
    phase: str,
    baseline: bool = False,
) -> Iterator[None]:
    """Read the service's resource figures before, during and after the block; store them for the run.

    With a concurrent baseline (`baseline=True`: its load runs in the block too), the baseline
    deployment's /metrics is read at the same moments, its rows' source tagged `@baseline`."""
    samplers = [PhaseSampler(phase, policy, cost.metrics_endpoint(target.graphql_url), cost.prometheus())]
    if baseline and target.baseline_graphql_url:
        samplers.append(
            baseline_sampler(phase, policy, cost.baseline_metrics_endpoint(target.baseline_graphql_url))
        )
    with reading(samplers, policy):
        yield
    rows = rows_of(samplers)
    notes = {source: note for sampler in samplers for source, note in sampler.notes.items()}
    store = s3.store()
    prefix = samples_prefix(s3, context.partition_key, context.run.run_id)
    store.put_bytes(f"{prefix}{phase}.parquet", encode(rows).data, overwrite=True)
    store.put_bytes(f"{prefix}{phase}.notes.json", json.dumps(notes).encode(), overwrite=True)
    read = sorted(set(rows["source"].to_list()))
    context.log.info(
        f"cost: {rows.height} resource figures around {phase} from {', '.join(read) or 'no source'}"
        + "".join(f"; {source} not read: {note}" for source, note in notes.items())
    )
