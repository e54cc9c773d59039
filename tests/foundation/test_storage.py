"""The IO manager and the object store, against a real SeaweedFS."""

import boto3
import botocore
import dagster as dg
import polars as pl
import pytest
from botocore.config import Config

from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.storage.resources import S3IOManager, S3Resource
from verification_pipeline.errors import StorageError

RC = "v24.1.0-rc1"


def _resources(settings):
    s3 = S3Resource(
        endpoint_url=settings.endpoint_url,
        region=settings.region,
        access_key_id=settings.access_key_id,
        secret_access_key=settings.secret_access_key,
        bucket=settings.bucket,
        prefix="io-test",
    )
    return {"s3": s3, "io_manager": S3IOManager(s3=s3)}


FRAME = pl.DataFrame({"op": ["read", "write"], "latency_ms": [12.5, 30.25]})


@dg.asset(partitions_def=release_candidates)
def frame_value() -> pl.DataFrame:
    return FRAME


@dg.asset(partitions_def=release_candidates)
def dict_value() -> dict:
    return {"p95_ms": 120.5, "count": 200}


@dg.asset(partitions_def=release_candidates)
def list_value() -> list:
    return [{"id": "CVE-1"}, {"id": "CVE-2"}]


@dg.asset(partitions_def=release_candidates)
def bytes_value() -> bytes:
    return b"\x00raw bytes\xff"


@dg.asset(partitions_def=release_candidates)
def reader(frame_value: pl.DataFrame, dict_value: dict, list_value: list, bytes_value: bytes) -> dict:
    return {
        "frame_equal": frame_value.equals(FRAME),
        "dict": dict_value,
        "list": list_value,
        "bytes": bytes_value.hex(),
    }


ALL = [frame_value, dict_value, list_value, bytes_value, reader]


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        inst.add_dynamic_partitions(release_candidates.name, [RC])
        yield inst


def test_round_trip_each_type(s3_stack, instance):
    result = dg.materialize(ALL, partition_key=RC, instance=instance, resources=_resources(s3_stack.settings))
    assert result.success
    out = result.output_for_node("reader")
    assert out == {
        "frame_equal": True,
        "dict": {"p95_ms": 120.5, "count": 200},
        "list": [{"id": "CVE-1"}, {"id": "CVE-2"}],
        "bytes": b"\x00raw bytes\xff".hex(),
    }
    mats = {e.asset_key.path[-1]: e for e in result.get_asset_materialization_events()}
    frame_md = mats["frame_value"].step_materialization_data.materialization.metadata
    assert frame_md["uri"].value == f"s3://{s3_stack.settings.bucket}/io-test/{RC}/frame_value.parquet"
    assert frame_md["dagster/row_count"].value == 2
    assert len(frame_md["sha256"].value) == 64
    store = s3_stack.store()
    assert store.exists(f"io-test/{RC}/dict_value.json")
    assert store.exists(f"io-test/{RC}/bytes_value.bin")


def test_corrupted_object_is_refused_naming_the_key(s3_stack, instance):
    resources = _resources(s3_stack.settings)
    assert dg.materialize(ALL[:4], partition_key=RC, instance=instance, resources=resources).success
    key = f"io-test/{RC}/dict_value.json"
    raw = boto3.client(
        "s3",
        endpoint_url=s3_stack.settings.endpoint_url,
        aws_access_key_id=s3_stack.settings.access_key_id,
        aws_secret_access_key=s3_stack.settings.secret_access_key,
        region_name="us-east-1",
    )
    # Behind the IO manager's back, with a checksum that matches the new bytes: only our own
    # record of the digest can catch this.
    raw.put_object(
        Bucket=s3_stack.settings.bucket,
        Key=key,
        Body=b'{"p95_ms": 1.0, "count": 200}',
        ChecksumAlgorithm="SHA256",
    )
    result = dg.materialize(
        ALL,
        partition_key=RC,
        instance=instance,
        resources=resources,
        selection=["reader"],
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    cause = failure.cause
    assert cause is not None and cause.cls_name == "StorageError"
    assert key in cause.message and "does not match its recorded sha256" in cause.message


def test_store_refuses_anonymous_and_wrong_key(s3_stack):
    endpoint = s3_stack.settings.endpoint_url
    anonymous = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version=botocore.UNSIGNED),
    )
    with pytest.raises(botocore.exceptions.ClientError) as anon:
        anonymous.list_objects_v2(Bucket=s3_stack.settings.bucket)
    assert anon.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError):
        anonymous.put_object(Bucket=s3_stack.settings.bucket, Key="anon.txt", Body=b"x")
    wrong = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=s3_stack.settings.access_key_id,
        aws_secret_access_key="not-the-secret-0000000000000000000000000",
    )
    with pytest.raises(botocore.exceptions.ClientError) as bad:
        wrong.list_objects_v2(Bucket=s3_stack.settings.bucket)
    assert bad.value.response["Error"]["Code"] in (
        "SignatureDoesNotMatch",
        "AccessDenied",
        "InvalidAccessKeyId",
    )


def test_put_is_write_once_and_checksummed(s3_stack):
    store = s3_stack.store()
    ref = store.put_bytes("once/a.txt", b"first")
    assert ref.sha256 == "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e"
    with pytest.raises(StorageError, match="already exists"):
        store.put_bytes("once/a.txt", b"second")
    assert store.get_bytes("once/a.txt") == b"first"
    with pytest.raises(StorageError, match="does not exist"):
        store.get_bytes("once/missing.txt")


def test_bucket_has_versioning_and_object_lock(s3_stack):
    store = s3_stack.store()
    assert store.object_lock_enabled()
    raw = store._client.get_bucket_versioning(Bucket=store.bucket)
    assert raw["Status"] == "Enabled"
