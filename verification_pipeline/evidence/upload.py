"""Publish a bundle to an object store, in an order that never exposes a half-written bundle.

Every evidence file goes first, the attestations after them (a reader who finds the signature
finds everything it covers), then the convenience archive, then the per-RC `latest.json`
pointer. Everything but the pointer is write-once; the pointer is the one key that moves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import archive_bytes
from verification_pipeline.evidence.layout import ARCHIVE_NAME, ATTESTATIONS, sha256_hex

LATEST_POINTER = "latest.json"

_CONTENT_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/vnd.in-toto.bundle",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".tar.gz": "application/gzip",
}


class BundleStore(Protocol):
    """The part of `storage.ObjectStore` an upload needs (a fake or a real store in tests)."""

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None, overwrite: bool = False
    ) -> Any: ...


@dataclass(frozen=True)
class UploadItem:
    key: str
    data: bytes = field(repr=False)
    content_type: str
    overwrite: bool = False


def run_prefix(bundle: EvidenceBundle, prefix: str = "") -> str:
    """`<prefix>/<rc>/<run-id>`: one run's bundle never shares keys with another's."""
    return _join(prefix, bundle.release_candidate.tag, bundle.run_id)


def upload_plan(bundle: EvidenceBundle, *, prefix: str = "") -> list[UploadItem]:
    """Every object to write, in the order to write it."""
    base = run_prefix(bundle, prefix)
    names = sorted(n for n in bundle.files if n != ATTESTATIONS) + [ATTESTATIONS]
    items = [
        UploadItem(_join(base, bundle.root, name), bundle.files[name], content_type(name)) for name in names
    ]
    archive = archive_bytes(bundle)
    archive_key = _join(base, ARCHIVE_NAME)
    items.append(UploadItem(archive_key, archive, content_type(ARCHIVE_NAME)))
    pointer = {
        "releaseCandidate": bundle.release_candidate.as_json(),
        "runId": bundle.run_id,
        "createdAt": bundle.created_at,
        "verdict": bundle.verdict,
        "bundlePrefix": _join(base, bundle.root) + "/",
        "archiveKey": archive_key,
        "archiveSha256": sha256_hex(archive),
        "attestationsSha256": bundle.attestations_sha256,
        "signingKeyFingerprint": bundle.key_fingerprint,
        "devKey": bundle.dev_key,
    }
    pointer_bytes = json.dumps(pointer, indent=2, sort_keys=True).encode() + b"\n"
    pointer_key = _join(prefix, bundle.release_candidate.tag, LATEST_POINTER)
    items.append(UploadItem(pointer_key, pointer_bytes, content_type(LATEST_POINTER), overwrite=True))
    return items


def upload_bundle(
    bundle: EvidenceBundle,
    store: BundleStore,
    *,
    prefix: str = "",
    write_once_options: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Execute the plan; returns what `put_bytes` returned, in order.

    `write_once_options` go to every write-once put (e.g. Object Lock `retain_until`), never to
    the pointer. A refused put (the key exists) stops the upload before the attestations if
    it happens to an evidence file, so a clash never yields a bundle that looks complete.
    """
    extra = dict(write_once_options or {})
    results = []
    for item in upload_plan(bundle, prefix=prefix):
        options = {} if item.overwrite else extra
        results.append(
            store.put_bytes(
                item.key, item.data, content_type=item.content_type, overwrite=item.overwrite, **options
            )
        )
    return results


def content_type(name: str) -> str:
    for suffix, kind in sorted(_CONTENT_TYPES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    return "application/octet-stream"


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
