"""Evidence bundles in the object store: read one back by its URI, checksum-verified per object."""

from __future__ import annotations

from verification_pipeline.evidence.bundle_io import read_object_prefix
from verification_pipeline.evidence.content import SpooledFiles
from verification_pipeline.storage.s3 import ObjectStore, S3Settings, parse_s3_uri


def read_bundle_uri(uri: str, settings: S3Settings) -> SpooledFiles:
    """Bundle-relative name -> file for `s3://bucket/<prefix>/<rc>/<run-id>/evidence/<version>/`.

    Every object's listed size is checked against the read limits before any is downloaded, and
    none is read past its listed size.
    """
    bucket, prefix = parse_s3_uri(uri)
    store = ObjectStore(settings, bucket=bucket)
    prefix = prefix.rstrip("/")
    return read_object_prefix(
        store.list_sizes(prefix + "/"),
        prefix,
        lambda key, size: store.get_bytes(key, max_bytes=size),
        source=uri,
    )
