"""A small S3 client for evidence: checksummed, write-once by default, errors that name the key.

Every put sends `ChecksumSHA256`, so the store rejects bytes damaged in transit; every get
recomputes the digest and compares it with the one we expect (from our own records when the
caller has them, else the one the store kept), so bytes changed behind our back are refused.
Works with any S3-compatible endpoint; tested against SeaweedFS.
"""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import boto3
import botocore.exceptions
from botocore.config import Config

from verification_pipeline.envvars import env_text, env_url
from verification_pipeline.errors import ConfigError, StorageError


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    bucket: str
    prefix: str = "verification"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        env = os.environ if env is None else env
        bucket = env.get("VP_S3_BUCKET")
        if not bucket:
            raise ConfigError(
                "VP_S3_BUCKET is not set",
                field="VP_S3_BUCKET",
                hint="run `verification-pipeline stack up` and source .vp/stack/env, or set the VP_S3_* variables",
            )
        return cls(
            endpoint_url=env_url(env, "VP_S3_ENDPOINT_URL", example="http://127.0.0.1:8333"),
            region=env_text(
                env, "VP_S3_REGION", "us-east-1", pattern=r"[a-z0-9-]{1,64}", example="us-east-1"
            ),
            access_key_id=env.get("VP_S3_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("VP_S3_SECRET_ACCESS_KEY") or None,
            # S3's bucket naming rules
            bucket=env_text(
                env, "VP_S3_BUCKET", bucket, pattern=r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", example="evidence"
            ),
            prefix=env_text(
                env,
                "VP_S3_PREFIX",
                "verification",
                pattern=r"[A-Za-z0-9!_.*'()/-]{0,512}",
                example="verification",
            ).strip("/"),
        )

    def masked_key(self) -> str:
        key = self.access_key_id or ""
        return f"{key[:4]}…({len(key)} chars)" if key else "(from the default AWS chain)"

    def __repr__(self) -> str:  # never show credentials in logs or tracebacks
        return (
            f"S3Settings(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"
        )


@dataclass(frozen=True)
class ObjectRef:
    uri: str
    key: str
    sha256: str
    size: int
    version_id: str | None = None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ConfigError(f"not an s3:// URI: {uri}", hint="write it as s3://bucket/key")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ConfigError(f"no bucket in {uri}", hint="write it as s3://bucket/key")
    return bucket, key


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _hex_from_b64(value: str) -> str:
    return base64.b64decode(value).hex()


class ObjectStore:
    """One bucket on one endpoint."""

    def __init__(self, settings: S3Settings, bucket: str | None = None) -> None:
        self.settings = settings
        self.bucket = bucket or settings.bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    # --- naming ------------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.settings.prefix, *parts) if p and p.strip("/"))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- errors ------------------------------------------------------------------------------

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        if isinstance(exc, botocore.exceptions.ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            reason = exc.response.get("Error", {}).get("Message", "") or code
            return StorageError(f"{action} {self.uri(key)} failed: {code} {reason}".strip())
        if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionError):
            return StorageError(
                f"{action} {self.uri(key)} failed: cannot reach {self.settings.endpoint_url}",
                hint="is the store running? `verification-pipeline stack status`",
            )
        return StorageError(f"{action} {self.uri(key)} failed: {type(exc).__name__}: {exc}")

    # --- bucket ------------------------------------------------------------------------------

    def answers(self) -> bool:
        try:
            self._client.list_buckets()
            return True
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return False

    def ensure_bucket(self, object_lock: bool = True) -> None:
        """Create the bucket (versioned; Object Lock when asked) unless it exists."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise self._fail("head bucket", "", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("head bucket", "", exc) from None
        try:
            self._client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=object_lock)
            self._client.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail("create bucket", "", exc) from None

    def object_lock_enabled(self) -> bool:
        try:
            conf = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except botocore.exceptions.ClientError:
            return False
        return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    # --- objects -----------------------------------------------------------------------------

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        retain_until: dt.datetime | None = None,
        lock_mode: str = "COMPLIANCE",
    ) -> ObjectRef:
        """Upload with a SHA-256 the store checks; refuse to replace an existing key unless told to."""
        args: dict = {"Bucket": self.bucket, "Key": key, "Body": data, "ChecksumSHA256": _b64_sha256(data)}
        if content_type:
            args["ContentType"] = content_type
        if not overwrite:
            args["IfNoneMatch"] = "*"
        if retain_until is not None:
            args["ObjectLockMode"] = lock_mode
            args["ObjectLockRetainUntilDate"] = retain_until
        try:
            resp = self._client.put_object(**args)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise StorageError(
                    f"{self.uri(key)} already exists; evidence is write-once",
                    hint="write to a new run id instead of overwriting",
                ) from None
            raise self._fail("put", key, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("put", key, exc) from None
        return ObjectRef(
            uri=self.uri(key),
            key=key,
            sha256=sha256_hex(data),
            size=len(data),
            version_id=resp.get("VersionId"),
        )

    def get_bytes(
        self,
        key: str,
        *,
        expected_sha256: str | None = None,
        version_id: str | None = None,
        require_checksum: bool = True,
        max_bytes: int | None = None,
    ) -> bytes:
        """Download and check the digest: ours if given, else the one the store recorded at upload.

        `require_checksum=False` is for inputs others uploaded (CI artifacts) without a checksum:
        they are read as they are, and the caller records the digest it saw. `max_bytes`: an
        object larger than that is refused from its Content-Length, before its body is read.
        """
        args = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            args["VersionId"] = version_id
        try:
            resp = self._client.get_object(**args)
            if max_bytes is not None and int(resp.get("ContentLength", 0)) > max_bytes:
                resp["Body"].close()
                raise StorageError(
                    f"{self.uri(key)} is {resp['ContentLength']} bytes, over the {max_bytes} expected"
                )
            data = resp["Body"].read() if max_bytes is None else resp["Body"].read(max_bytes + 1)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StorageError(f"{self.uri(key)} does not exist") from None
            raise self._fail("get", key, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("get", key, exc) from None
        actual = sha256_hex(data)
        stored = resp.get("ChecksumSHA256")
        expected = expected_sha256 or (_hex_from_b64(stored) if stored else None)
        if expected is None and not require_checksum:
            return data
        if expected is None:
            raise StorageError(
                f"{self.uri(key)} has no SHA-256 checksum to check against",
                hint="it was not written by this pipeline; re-materialize it",
            )
        if actual != expected:
            raise StorageError(
                f"{self.uri(key)} does not match its recorded sha256 (expected {expected[:16]}…, got {actual[:16]}…)",
                hint="the object was changed after it was written; re-materialize it",
            )
        return data

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
            return True
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("head", key, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("head", key, exc) from None

    def list(self, prefix: str) -> list[str]:
        return sorted(self.list_sizes(prefix))

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """Key -> size in bytes of every object under `prefix`, so sizes are known before any get."""
        sizes: dict[str, int] = {}
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                sizes.update((obj["Key"], int(obj.get("Size", 0))) for obj in page.get("Contents", []))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail("list", prefix, exc) from None
        return sizes

    def delete(self, key: str, version_id: str | None = None) -> None:
        args = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            self._client.delete_object(**args)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail("delete", key, exc) from None

    def version_ids(self, key: str) -> builtins.list[str]:  # `list` here is the method above
        try:
            resp = self._client.list_object_versions(Bucket=self.bucket, Prefix=key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail("list versions", key, exc) from None
        return [v["VersionId"] for v in resp.get("Versions", []) if v["Key"] == key]
