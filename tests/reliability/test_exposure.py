"""Who can reach what: the embedded store only on loopback and only with its keys; one tenant's
token never reaches another tenant's data or events through the pipeline.

Already covered elsewhere, so not repeated here: the store's TCP listeners on 127.0.0.1 and S3
refusing anonymous and wrong-key requests (tests/foundation), the target refusing cross-tenant
reads, writes and subscriptions request by request (tests/target/test_auth.py, test_realtime.py).
"""

from __future__ import annotations

import secrets
import socket

import dagster as dg
import httpx
import psutil

from tests.reliability.conftest import LOAD_ASSETS, load_config, materializations, run_assets, step_failures
from tests.target.helpers import read
from verification_pipeline.storage.s3 import ObjectStore, S3Settings
from verification_pipeline.storage.serialize import decode

LOOPBACK = {"127.0.0.1", "::1"}


def test_every_socket_of_the_store_is_on_loopback_and_one_it_was_given(s3_stack):
    """TCP and UDP, IPv4 and IPv6: no wildcard, no port the stack did not choose (pprof, metrics)."""
    process = psutil.Process(s3_stack.stack.status().running["seaweedfs"].pid)
    sockets = [
        c
        for c in process.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN or c.type == socket.SOCK_DGRAM
    ]
    assert sockets, "the store listens nowhere?"
    exposed = [f"{c.laddr.ip}:{c.laddr.port}" for c in sockets if c.laddr.ip not in LOOPBACK]
    assert not exposed, f"the store listens beyond loopback: {exposed}"
    unexpected = {c.laddr.port for c in sockets} - set(s3_stack.stack.ports.seaweedfs().values())
    assert not unexpected, f"ports the stack did not configure: {sorted(unexpected)}"


def test_the_store_internal_http_api_refuses_anonymous_reads_and_deletes(s3_stack):
    store = s3_stack.store()
    key = f"reliability-exposure/{secrets.token_hex(6)}/evidence.json"
    data = b'{"evidence": "' + secrets.token_hex(16).encode() + b'"}'
    store.put_bytes(key, data)
    bucket = s3_stack.settings.bucket

    readable, deleted = [], []
    with httpx.Client(timeout=5.0) as anonymous:
        for role, port in s3_stack.stack.ports.seaweedfs().items():
            if "grpc" in role or role == "s3":
                continue
            base = f"http://127.0.0.1:{port}"
            candidates = [f"{base}/buckets/{bucket}/{key}"]
            listing = anonymous.get(
                f"{base}/buckets/{bucket}/{key}.versions/", headers={"Accept": "application/json"}
            )
            if listing.status_code == 200 and "json" in listing.headers.get("content-type", ""):
                candidates += [base + entry["FullPath"] for entry in listing.json().get("Entries") or []]
            for url in candidates:
                if anonymous.get(url).content == data:
                    readable.append(url)
                    if anonymous.delete(url).is_success and not store.exists(key):
                        deleted.append(url)
    assert not readable, f"anonymous reads of an object: {readable}"
    assert not deleted, f"anonymous deletes of a write-once object: {deleted}"


def test_a_token_for_another_tenant_gets_no_data_and_no_events(pipeline_env, instance, target, monkeypatch):
    """The pipeline measures tenant-123; handed a token for someone else, it must see nothing of it."""
    victim = "tenant-123"
    own = target.token(victim)
    before = read(target.graphql_url, own, tenant=victim).json()["data"]
    monkeypatch.setenv("VP_TARGET_JWT", target.token("tenant-intruder"))
    fanout_config = {"fanout_latencies": {"config": {"subscribers": 2, "events": 5}}}
    run_config = {"ops": {**load_config("2s", read_vus=1, write_vus=1)["ops"], **fanout_config}}
    result = run_assets(instance, [*LOAD_ASSETS, dg.AssetKey("fanout_latencies")], run_config)

    failure = step_failures(instance, result.run_id)["fanout_latencies"]
    assert failure.cls_name == "TargetError" and f"may not subscribe to tenant '{victim}'" in failure.message
    assert not materializations(instance, "fanout_latencies")
    settings = S3Settings.from_env()
    for asset in ("read_load_samples", "write_load_samples"):
        record = materializations(instance, asset)[0]
        uri = str(record.asset_materialization.metadata["uri"].value)
        samples = decode(ObjectStore(settings).get_bytes(uri.split("/", 3)[3]), "parquet", uri)
        assert samples.height > 0 and not samples["ok"].any(), f"{asset}: a foreign token was served"
        assert set(samples["failure"].unique()) <= {"graphql", "http"}
    assert read(target.graphql_url, own, tenant=victim).json()["data"] == before, "a foreign token wrote"
