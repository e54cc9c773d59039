"""Forbidden requests sent from the load step while k6 runs, kept beside the step for `authz_under_load`.

They run in the load step itself because only there do they meet the SLO load: in-process, steps
run one after another. Their rows go to the store under the run and the segment, never into the
k6 samples, so the SLO figures do not include them.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

import dagster as dg
import polars as pl

from verification_pipeline.authz.probe import Kind, ProbeSettings, plan_attempts, run_probe
from verification_pipeline.authz.subscribers import cross_tenant_subscribers, plan_intrusion
from verification_pipeline.background import in_background
from verification_pipeline.defs.authz.resources import AuthzResource
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.defs.target import TargetResource
from verification_pipeline.storage.serialize import encode

ROWS_FOLDER = "authz-rows"


def rows_prefix(s3: S3Resource, partition: str, run_id: str) -> str:
    store = s3.store()
    return store.key(partition, ROWS_FOLDER, run_id) + "/"


@contextlib.contextmanager
def forbidden_requests_during(
    context: dg.OpExecutionContext, target: TargetResource, authz: AuthzResource, s3: S3Resource, segment: int
) -> Iterator[None]:
    """While the block runs (the k6 load), send forbidden requests; then store their rows and plan."""
    if authz.rate <= 0:
        yield
        return
    tokens = authz.tokens(target)
    plan = plan_attempts(tokens, target.tenant, authz.residency_rule(target))
    result: dict[str, pl.DataFrame] = {}

    def probe(stop: threading.Event) -> None:
        settings = ProbeSettings(concurrency=authz.concurrency, rate=authz.rate)
        result["rows"] = run_probe(target.graphql_url, plan, settings, stop=stop)

    with in_background(probe, "authz-probe"):  # what the probe raised is raised here
        yield
    rows = result["rows"]
    store = s3.store()
    prefix = rows_prefix(s3, context.partition_key, context.run.run_id)
    store.put_bytes(f"{prefix}segment-{segment}.parquet", encode(rows).data, overwrite=True)
    store.put_bytes(
        f"{prefix}segment-{segment}.plan.json",
        json.dumps(
            {
                "tried": [a.kind.value for a in plan.attempts],
                "not_tried": plan.not_tried,
                "tokens": tokens.source,
            }
        ).encode(),
        overwrite=True,
    )
    context.log.info(f"authz: {rows.height} forbidden requests during segment {segment}'s load")


FANOUT_ROWS = "fanout"


@contextlib.contextmanager
def cross_tenant_subscribers_during(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    target: TargetResource,
    authz: AuthzResource,
    s3: S3Resource,
    subscribers: int,
    socketio_url: str,
) -> Iterator[None]:
    """While the block runs (the fan-out probe), hold subscribers asking for another tenant's room;
    then store their rows and plan beside the load's forbidden requests."""
    if authz.subscriber_share <= 0:
        yield
        return
    count = max(1, round(subscribers * authz.subscriber_share))
    intrusion = plan_intrusion(authz.tokens(target), target.tenant)
    with cross_tenant_subscribers(socketio_url, intrusion, count) as out:
        yield
    rows = out[0]
    store = s3.store()
    prefix = rows_prefix(s3, context.partition_key, context.run.run_id)
    store.put_bytes(f"{prefix}{FANOUT_ROWS}.parquet", encode(rows).data, overwrite=True)
    plan = {
        "tried": [Kind.CROSS_TENANT_SUBSCRIBE.value],
        "not_tried": {},
        "how": {Kind.CROSS_TENANT_SUBSCRIBE.value: intrusion.how},
    }
    store.put_bytes(f"{prefix}{FANOUT_ROWS}.plan.json", json.dumps(plan).encode(), overwrite=True)
    context.log.info(
        f"authz: {rows.height} subscribers asked for another tenant's room during the fan-out probe"
    )
