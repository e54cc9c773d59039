"""Create the buckets the compose stack needs, once; running it again changes nothing.

The evidence bucket is created with Object Lock (which needs versioning), because the bundle is
write-once and Object Lock can only be switched on when a bucket is created. The compute-log
bucket is a plain bucket: Dagster rewrites a step's log object while the step runs.

Reads VP_S3_ENDPOINT_URL, VP_S3_REGION, VP_S3_BUCKET, DAGSTER_COMPUTE_LOG_BUCKET and the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY pair (through boto3). Exits 2 with a message naming
the bucket and the cause when the store refuses; the store may still be starting, so connection
errors are retried for a while first.
"""

from __future__ import annotations

import os
import sys
import time
from typing import NoReturn

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

STARTUP_WAIT_S = 60.0


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        fail(f"environment variable {name} is not set (see infra/env/*.env.example)")
    return value


def bucket_exists(s3: BaseClient, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise
    return True


def object_lock_enabled(s3: BaseClient, bucket: str) -> bool:
    try:
        lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError as exc:
        # S3 (and SeaweedFS) answer with this error, not an empty configuration, for a plain bucket.
        if exc.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            return False
        raise
    return lock.get("ObjectLockEnabled") == "Enabled"


def ensure_evidence_bucket(s3: BaseClient, bucket: str) -> str:
    if bucket_exists(s3, bucket):
        if not object_lock_enabled(s3, bucket):
            fail(
                f"bucket {bucket} exists without Object Lock; evidence needs a bucket created "
                "with Object Lock enabled (choose a new VP_S3_BUCKET)"
            )
        return f"evidence bucket {bucket}: present, Object Lock enabled"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return f"evidence bucket {bucket}: created with versioning and Object Lock"


def ensure_plain_bucket(s3: BaseClient, bucket: str) -> str:
    if bucket_exists(s3, bucket):
        return f"compute-log bucket {bucket}: present"
    s3.create_bucket(Bucket=bucket)
    return f"compute-log bucket {bucket}: created"


def main() -> None:
    endpoint = required_env("VP_S3_ENDPOINT_URL")
    evidence_bucket = required_env("VP_S3_BUCKET")
    compute_log_bucket = required_env("DAGSTER_COMPUTE_LOG_BUCKET")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("VP_S3_REGION", "us-east-1"))

    deadline = time.monotonic() + STARTUP_WAIT_S
    while True:
        try:
            print(ensure_evidence_bucket(s3, evidence_bucket))
            print(ensure_plain_bucket(s3, compute_log_bucket))
            return
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                fail(f"no S3 endpoint answering at {endpoint} after {STARTUP_WAIT_S:.0f} s")
            time.sleep(2)
        except (ClientError, BotoCoreError) as exc:
            # The message carries the error code (e.g. InvalidAccessKeyId), never the key itself.
            fail(f"S3 at {endpoint} refused the bucket setup: {exc}")


if __name__ == "__main__":
    main()
