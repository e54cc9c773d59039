"""Inputs named by a path or an s3:// URI (what CI produced), and originals kept beside assets."""

from pathlib import Path

import dagster as dg

from verification_pipeline.defs.materializations import latest_record, materialization
from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.errors import InputError
from verification_pipeline.storage.s3 import ObjectRef, ObjectStore, parse_s3_uri


def read_source(ref: str, s3: S3Resource) -> bytes:
    """Bytes of a local file or an s3:// object (any bucket the credentials can read)."""
    if ref.startswith("s3://"):
        bucket, key = parse_s3_uri(ref)
        return ObjectStore(s3.settings(), bucket=bucket).get_bytes(key, require_checksum=False)
    path = Path(ref).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            "file not found", source=str(path), hint="check the path in the run config"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=str(path)) from None


def store_original(
    context: dg.AssetExecutionContext, s3: S3Resource, filename: str, data: bytes
) -> ObjectRef:
    """Keep the original file an asset was made from, next to the asset, named by this run."""
    store = s3.store()
    key = store.key(context.partition_key, "originals", context.run.run_id, *context.asset_key.path, filename)
    return store.put_bytes(key, data)


def original_metadata(ref: ObjectRef) -> dict:
    return {
        "original_uri": dg.MetadataValue.url(ref.uri),
        "original_sha256": ref.sha256,
        "original_bytes": ref.size,
    }


def load_original(
    context: dg.AssetExecutionContext, s3: S3Resource, asset: dg.AssetKey
) -> tuple[str, bytes] | None:
    """The original file behind the latest materialization of `asset` for this partition, checked."""
    record = latest_record(context.instance, asset, context.partition_key)
    if record is None:
        return None
    metadata = materialization(record).metadata
    if "original_uri" not in metadata:
        return None
    uri = str(metadata["original_uri"].value)
    bucket, key = parse_s3_uri(uri)
    data = ObjectStore(s3.settings(), bucket=bucket).get_bytes(
        key, expected_sha256=str(metadata["original_sha256"].value)
    )
    return key.rsplit("/", 1)[-1], data
