"""Bundle files kept beside the assets that make them, for `evidence_bundle` to collect.

An asset that makes files of the bundle (`evidence.layout.BUNDLE_FILES` names which) records
them in its materialization metadata under `bundle_files`: bundle path -> the object holding
the bytes and its sha256. `evidence_bundle` reads every producing asset's record the same way,
so a new bundle file is a table entry plus one `bundle_files_metadata` call in its asset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
import polars as pl

from verification_pipeline.defs.materializations import latest_record
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.errors import StorageError
from verification_pipeline.evidence.layout import BUNDLE_FILES, producing_assets
from verification_pipeline.storage.s3 import ObjectRef, ObjectStore, parse_s3_uri
from verification_pipeline.storage.serialize import encode

BUNDLE_FILES_KEY = "bundle_files"
STORED_VALUE = "stored value"
"""Marks a bundle file that is the asset's own stored value (a raw Parquet table): no second copy."""


def bundle_files_metadata(
    context: dg.AssetExecutionContext, s3: S3Resource, files: Mapping[str, bytes | ObjectRef]
) -> dict[str, dg.MetadataValue]:
    """Metadata naming where each bundle file's bytes are; bytes are stored beside the asset first."""
    store = s3.store()
    entries: dict[str, object] = {}
    for path, content in sorted(files.items()):
        ref = (
            store.put_bytes(
                store.key(context.partition_key, "bundle-files", context.run.run_id, path), content
            )
            if isinstance(content, bytes)
            else content
        )
        entries[path] = {"uri": ref.uri, "sha256": ref.sha256}
    return {BUNDLE_FILES_KEY: dg.MetadataValue.json(entries)}


def document_and_rows(
    document_path: str, document: Mapping[str, Any], rows_path: str, rows: pl.DataFrame
) -> dict[str, bytes]:
    """A gate's two bundle files: its document (JSON, indented, keys sorted) and its rows (Parquet)."""
    return {
        document_path: json.dumps(document, indent=2, sort_keys=True).encode(),
        rows_path: encode(rows).data,
    }


def stored_value_metadata(
    path: str, *, kept: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, dg.MetadataValue]:
    """Metadata saying the bundle file `path` is this asset's stored value itself.

    `kept`: further bundle files of the asset that its steps already stored (bundle path -> its
    `uri` and `sha256`), such as k6's web dashboards kept by each load step.
    """
    entries: dict[str, object] = {
        name: {"uri": where["uri"], "sha256": where["sha256"]} for name, where in (kept or {}).items()
    }
    entries[path] = STORED_VALUE
    return {BUNDLE_FILES_KEY: dg.MetadataValue.json(entries)}


def load_bundle_files(
    context: dg.AssetExecutionContext, s3: S3Resource, asset: str
) -> tuple[dict[str, bytes], dg.EventLogRecord | None]:
    """The bundle files the latest materialization of `asset` (this partition) recorded, digests checked."""
    record = latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
    materialization = record.asset_materialization if record is not None else None
    if materialization is None:
        return {}, None
    metadata = materialization.metadata
    if BUNDLE_FILES_KEY not in metadata:
        return {}, record
    entries = metadata[BUNDLE_FILES_KEY].value
    if not isinstance(entries, dict):
        raise StorageError(f"{asset}: its `{BUNDLE_FILES_KEY}` metadata is not a mapping")
    files: dict[str, bytes] = {}
    for path, where in entries.items():
        if where == STORED_VALUE:
            uri, sha256 = str(metadata["uri"].value), str(metadata["sha256"].value)
        else:
            uri, sha256 = str(where["uri"]), str(where["sha256"])
        bucket, key = parse_s3_uri(uri)
        files[path] = ObjectStore(s3.settings(), bucket=bucket).get_bytes(key, expected_sha256=sha256)
    return files, record


def unrecorded_files(
    context: dg.AssetExecutionContext, version: str, *, made_here: Iterable[str]
) -> tuple[str, ...]:
    """Required bundle files that the latest materialization of their asset did not record.

    Lets the release documents state the bundle's verdict (missing evidence is INCOMPLETE)
    before the bundle exists. `made_here` are the files of the asset asking; an asset not yet
    materialized for this partition is not judged.
    """
    asking = context.asset_key.to_user_string()
    recorded = set(made_here)
    judged = {asking}
    for asset in producing_assets():
        record = (
            latest_record(context.instance, dg.AssetKey(asset), context.partition_key)
            if asset != asking
            else None
        )
        materialization = record.asset_materialization if record is not None else None
        if materialization is None:
            continue
        judged.add(asset)
        entries = materialization.metadata.get(BUNDLE_FILES_KEY)
        if entries is not None and isinstance(entries.value, dict):
            recorded.update(entries.value)
    return tuple(
        entry.name(version)
        for entry in BUNDLE_FILES
        if entry.required and entry.asset in judged and entry.name(version) not in recorded
    )
