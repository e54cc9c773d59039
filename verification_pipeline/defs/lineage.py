"""What the Dagster instance recorded for one RC: each asset's latest materialization and its inputs."""

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from verification_pipeline.defs.materializations import latest_record, materialization
from verification_pipeline.errors import InputError


@dataclass(frozen=True)
class Step:
    asset: str
    upstream: tuple[str, ...]
    run_id: str
    code_version: str
    data_version: str
    uri: str
    sha256: str
    verdict: str


def lineage(defs: dg.Definitions, instance: dg.DagsterInstance, rc: str) -> list[Step]:
    """Assets in dependency order (raw measurements first), each with what produced it."""
    graph = defs.resolve_asset_graph()
    keys = list(graph.toposorted_asset_keys)
    steps = []
    for key in keys:
        record = latest_record(instance, key, rc)
        if record is None:
            continue
        mat = materialization(record)
        md, tags = mat.metadata, mat.tags or {}

        def text(name: str, md: Mapping[str, dg.MetadataValue] = md) -> str:
            return str(md[name].value) if name in md else ""

        steps.append(
            Step(
                asset=key.to_user_string(),
                upstream=tuple(sorted(k.to_user_string() for k in graph.get(key).parent_keys)),
                run_id=record.run_id,
                code_version=tags.get("dagster/code_version", ""),
                data_version=tags.get("dagster/data_version", ""),
                uri=text("bundle_uri") or text("uri"),
                sha256=text("archive_sha256") or text("sha256"),
                verdict=text("verdict"),
            )
        )
    if not steps:
        raise InputError(
            f"the Dagster instance has no materializations for {rc}",
            field="rc",
            hint="verify it first (`make demo` or the UI), or point DAGSTER_HOME at the instance that did",
        )
    return steps


def latest_decision(instance: dg.DagsterInstance, rc: str) -> dict:
    """The latest release_decision for `rc`, as its materialization metadata recorded it."""
    record = latest_record(instance, dg.AssetKey("release_decision"), rc)
    if record is None:
        raise InputError(
            f"no release decision has been recorded for {rc}", field="rc", hint="verify the RC first"
        )
    md = materialization(record).metadata
    return {key: value.value for key, value in md.items()} | {"run_id": record.run_id}
