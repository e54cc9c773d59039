"""Known secrets never leave: not in logs, metadata, stored outputs, bundles, printed output or errors.

The demo path runs with values the test knows: the target's JWT, the S3 access key id and
secret, and the signing key (its PEM, each base64 line of it, its raw seed). Runs that fail on
purpose add a refused JWT, a wrong S3 secret and a bad report path, so error messages are
searched too. Then everything the runs left behind is searched: every event of every run
(serialized whole: messages, metadata, errors with their stacks), the run records (config,
tags), every materialization, every file of the Dagster instance on disk, every object under
the test's prefix (Parquet decoded, tar.gz unpacked, DSSE payloads decoded), the demo's local
copy of the bundle, and everything printed to stdout and stderr.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import secrets
import tarfile
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from cryptography.hazmat.primitives import serialization

from reference_target.tokens import mint_token
from tests.pipeline.conftest import RC, definitions, short_run_config
from tests.reliability.conftest import pipeline_store, run_assets, step_failures
from verification_pipeline.cli.stack import _print_outcome
from verification_pipeline.execution.runner import verify_in_process

pytestmark = pytest.mark.slow


def _signing_key_forms(pem: str) -> dict[str, str]:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    forms = {"signing key PEM": pem.strip(), "signing key seed (hex)": seed.hex()}
    forms["signing key seed (base64)"] = base64.b64encode(seed).decode().rstrip("=")
    for number, line in enumerate(pem.strip().splitlines()[1:-1], 1):
        forms[f"signing key PEM line {number}"] = line
    return forms


def _expand(name: str, data: bytes) -> dict[str, bytes]:
    """The bytes as stored, plus what they hold once decoded (Parquet rows, archive members, DSSE payloads)."""
    out = {name: data}
    if name.endswith(".parquet"):
        frame = pl.read_parquet(io.BytesIO(data))
        out[f"{name} [rows]"] = json.dumps([dict(frame.schema), frame.to_dicts()], default=str).encode()
    elif name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
            for member in tar:
                if member.isreg():
                    out.update(_expand(f"{name}!{member.name}", tar.extractfile(member).read()))
    elif name.endswith(".jsonl"):
        for number, line in enumerate(data.splitlines(), 1):
            envelope = json.loads(line)
            if isinstance(envelope, dict) and "payload" in envelope:
                out[f"{name} line {number} [payload]"] = base64.b64decode(envelope["payload"])
    return out


def _instance_files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_no_secret_in_logs_metadata_outputs_bundles_printed_output_or_errors(
    pipeline_env, instance, s3_stack, tmp_path, monkeypatch, capfd
):
    jwt = os.environ["VP_TARGET_JWT"]
    refused_jwt = mint_token(secrets.token_bytes(32), "tenant-123", ["coherence:read", "coherence:write"])
    wrong_s3_secret = "wrong-" + secrets.token_urlsafe(30)
    known = {
        "target JWT": jwt,
        "target JWT signature": jwt.rsplit(".", 1)[1],
        "refused JWT": refused_jwt,
        "refused JWT signature": refused_jwt.rsplit(".", 1)[1],
        "S3 access key id": s3_stack.settings.access_key_id,
        "S3 secret access key": s3_stack.settings.secret_access_key,
        "wrong S3 secret": wrong_s3_secret,
        **_signing_key_forms(pipeline_env.signing_private_pem),
    }
    run_ids = []

    # Failing on purpose: a refused token (fan-out) and a report path that does not exist.
    with monkeypatch.context() as mp:
        mp.setenv("VP_TARGET_JWT", refused_jwt)
        mp.setenv("VP_VULN_REPORT", str(tmp_path / "missing" / "vulns.grype.json"))
        refused = run_assets(
            instance,
            [dg.AssetKey("fanout_latencies"), dg.AssetKey("vulnerability_report")],
            {"ops": {"fanout_latencies": {"config": {"subscribers": 2, "events": 3}}}},
        )
    failures = step_failures(instance, refused.run_id)
    assert (
        failures["fanout_latencies"].cls_name == "TargetError"
        and "refused" in failures["fanout_latencies"].message
    )
    assert failures["vulnerability_report"].cls_name == "InputError"
    run_ids.append(refused.run_id)

    # Failing on purpose: the store refuses a wrong secret.
    with monkeypatch.context() as mp:
        mp.setenv("VP_S3_SECRET_ACCESS_KEY", wrong_s3_secret)
        denied = run_assets(instance, [dg.AssetKey("slo_spec")])
    assert step_failures(instance, denied.run_id)["slo_spec"].cls_name == "StorageError"
    run_ids.append(denied.run_id)

    # The demo path: the whole job, then what `demo` prints and copies locally.
    started = time.monotonic()
    run = verify_in_process(definitions(), RC, instance, run_config=short_run_config(), raise_on_error=False)
    assert run.values.evidence_bundle is not None, step_failures(instance, run.run_id)
    demo_output = tmp_path / "demo-output"
    _print_outcome(run, RC, demo_output, s3_stack.stack.settings(), time.monotonic() - started)
    run_ids.append(run.run_id)

    haystacks: dict[str, bytes] = {}
    for run_id in run_ids:
        for number, entry in enumerate(instance.all_logs(run_id)):
            haystacks[f"run {run_id} event {number}"] = dg.serialize_value(entry).encode()
        haystacks[f"run record {run_id}"] = dg.serialize_value(instance.get_run_by_id(run_id)).encode()
    for asset_key in instance.get_asset_keys():
        for record in instance.fetch_materializations(asset_key, limit=100).records:
            haystacks[f"materialization of {asset_key.to_user_string()}"] = dg.serialize_value(
                record
            ).encode()
    haystacks.update(_instance_files(Path(instance.root_directory)))
    store = pipeline_store()
    objects = store.list(store.key() + "/")
    for key in objects:
        haystacks.update(_expand(store.uri(key), store.get_bytes(key)))
    for path in demo_output.rglob("*"):
        if path.is_file():
            haystacks.update(_expand(str(path), path.read_bytes()))
    printed = capfd.readouterr()
    haystacks["stdout"], haystacks["stderr"] = printed.out.encode(), printed.err.encode()

    # The search looked at the real thing: decoded rows, archive members, signed statements.
    assert any(name.endswith("raw/read.parquet [rows]") for name in haystacks)
    assert any("bundle.tar.gz!" in name for name in haystacks)
    assert any(name.endswith("[payload]") and run.run_id.encode() in data for name, data in haystacks.items())
    assert run.values.evidence_bundle.uri.encode() in haystacks["stdout"]

    leaks = sorted(
        f"{secret} in {where}"
        for where, data in haystacks.items()
        for secret, value in known.items()
        if value and value.encode() in data
    )
    assert not leaks, f"{len(leaks)} leak(s): " + "; ".join(leaks[:20])
