"""The S3 resource and the IO manager that keeps every asset's value in the bucket."""

import dagster as dg

from verification_pipeline.defs.materializations import latest_record, materialization
from verification_pipeline.errors import StorageError
from verification_pipeline.storage.s3 import ObjectStore, S3Settings
from verification_pipeline.storage.serialize import EXTENSIONS, decode, encode


class S3Resource(dg.ConfigurableResource):
    """An S3-compatible bucket (SeaweedFS by default, AWS S3 or MinIO in production)."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    bucket: str
    prefix: str = "verification"
    object_lock_mode: str = "COMPLIANCE"

    def settings(self) -> S3Settings:
        return S3Settings(
            endpoint_url=self.endpoint_url or None,
            region=self.region,
            access_key_id=self.access_key_id or None,
            secret_access_key=self.secret_access_key or None,
            bucket=self.bucket,
            prefix=self.prefix.strip("/"),
        )

    def store(self) -> ObjectStore:
        return ObjectStore(self.settings())


def s3_resource_from_env() -> S3Resource:
    return S3Resource(
        endpoint_url=dg.EnvVar("VP_S3_ENDPOINT_URL"),
        region=dg.EnvVar("VP_S3_REGION"),
        access_key_id=dg.EnvVar("VP_S3_ACCESS_KEY_ID"),
        secret_access_key=dg.EnvVar("VP_S3_SECRET_ACCESS_KEY"),
        bucket=dg.EnvVar("VP_S3_BUCKET"),
        prefix=dg.EnvVar("VP_S3_PREFIX"),
        object_lock_mode=dg.EnvVar("VP_S3_OBJECT_LOCK_MODE"),
    )


class S3IOManager(dg.ConfigurableIOManager):
    """polars DataFrame -> Parquet (zstd), typed record or dict/list -> JSON, bytes -> as is.

    Key: `<prefix>/<rc>/<asset key path>.<ext>`. On load, the digest to check comes from the
    upstream materialization's own metadata, so an object replaced behind our back is refused
    even if whoever replaced it also sent a matching checksum to the store.
    """

    s3: S3Resource

    def _base_key(self, store: ObjectStore, context: dg.OutputContext | dg.InputContext) -> str:
        if not context.has_asset_key:
            # an op inside a graph-backed asset (a load segment): keyed by run, step and output
            output = context.upstream_output if isinstance(context, dg.InputContext) else context
            if output is None:
                raise StorageError("an op input with no upstream output has nothing stored to load")
            return store.key("_steps", *output.get_identifier())
        partition = context.partition_key if context.has_partition_key else "_unpartitioned"
        return store.key(partition, *context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is None:
            return
        store = self.s3.store()
        encoded = encode(obj)
        ref = store.put_bytes(
            f"{self._base_key(store, context)}.{encoded.extension}",
            encoded.data,
            content_type=encoded.content_type,
            overwrite=True,
        )
        metadata: dict[str, dg.RawMetadataValue] = {
            "uri": dg.MetadataValue.url(ref.uri),
            "sha256": ref.sha256,
            "bytes": ref.size,
        }
        if ref.version_id:
            metadata["s3_version_id"] = ref.version_id
        if encoded.rows is not None:
            metadata["dagster/row_count"] = encoded.rows
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> object:
        store = self.s3.store()
        base = self._base_key(store, context)
        recorded = self._recorded(context)
        key: str | None
        sha256: str | None
        if recorded is not None:
            uri, sha256 = recorded
            key = uri.removeprefix(f"s3://{store.bucket}/")
        else:
            key = next((f"{base}.{ext}" for ext in EXTENSIONS if store.exists(f"{base}.{ext}")), None)
            sha256 = None
            if key is None:
                raise StorageError(
                    f"no stored value for {context.asset_key.to_user_string()} under {store.uri(base)}.*",
                    hint="materialize the upstream asset for this partition first",
                )
        data = store.get_bytes(key, expected_sha256=sha256)
        return decode(data, key.rsplit(".", 1)[-1], store.uri(key), as_type=context.dagster_type.typing_type)

    def _recorded(self, context: dg.InputContext) -> tuple[str, str] | None:
        """URI and sha256 from the latest materialization of this asset partition, if Dagster has one."""
        if context.instance is None or not context.has_asset_key:
            return None
        record = latest_record(
            context.instance, context.asset_key, context.partition_key if context.has_partition_key else None
        )
        if record is None:
            return None
        metadata = materialization(record).metadata
        if "uri" not in metadata or "sha256" not in metadata:
            return None
        return str(metadata["uri"].value), str(metadata["sha256"].value)
