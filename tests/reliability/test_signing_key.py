"""A missing or unusable signing key stops evidence_bundle before it uploads anything.

The RC's measurements are made once; then `evidence_bundle` alone is materialized once per
broken key. Each attempt must fail with a SigningError that names where the key was looked
for (file path or variable name) and never shows key material, and must leave the bucket
exactly as it was: nothing under `<prefix>/<rc>/<run-id>/`, nothing anywhere else either.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.pipeline.conftest import RC, short_run_config
from tests.reliability.conftest import UPSTREAM_OF_BUNDLE, pipeline_store, run_assets, step_failures

pytestmark = pytest.mark.slow

BUNDLE = [dg.AssetKey("evidence_bundle")]
GARBAGE = base64.b64encode(b"GARBAGE-KEY-MATERIAL-" + os.urandom(24)).decode()
GARBAGE_PEM = f"-----BEGIN PRIVATE KEY-----\n{GARBAGE}\n-----END PRIVATE KEY-----\n"


@dataclass(frozen=True)
class BrokenKey:
    name: str
    arrange: Callable[[Path, pytest.MonkeyPatch], str]
    """Sets the environment up; returns what the error must name (a path or a variable)."""
    says: str
    material: str = ""
    """Key bytes (text) that must not appear in any error."""


def _key_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VP_EVIDENCE_SIGNING_KEY_FILE", str(path))
    return str(path)


def _written(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    path.chmod(0o600)
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _ec_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _in_environment(pem: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VP_EVIDENCE_SIGNING_KEY", pem)
    return "environment variable VP_EVIDENCE_SIGNING_KEY"


EC_PEM = _ec_key_pem()
PUBLIC_PEM = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)

# (A file of mode 000 is no test here: the suite runs as root, who reads it anyway.)
BROKEN_KEYS = [
    BrokenKey("no key anywhere", lambda d, mp: "VP_EVIDENCE_SIGNING_KEY", "no signing key"),
    BrokenKey("missing file", lambda d, mp: _key_file(d / "absent.key", mp), "does not exist"),
    BrokenKey("a directory", lambda d, mp: _key_file(_directory(d / "keydir"), mp), "cannot be read"),
    BrokenKey(
        "garbage PEM file",
        lambda d, mp: _key_file(_written(d / "garbage.pem", GARBAGE_PEM), mp),
        "not a readable private key",
        GARBAGE,
    ),
    BrokenKey(
        "binary junk file",
        lambda d, mp: _key_file(_written(d / "junk.key", b"\x00\xff" + GARBAGE.encode()), mp),
        "does not hold a PEM private key",
        GARBAGE,
    ),
    BrokenKey(
        "an EC key, not Ed25519",
        lambda d, mp: _key_file(_written(d / "ec.key", EC_PEM), mp),
        "not an Ed25519 private key",
        EC_PEM.splitlines()[1],
    ),
    BrokenKey(
        "the public key instead of the private one",
        lambda d, mp: _key_file(_written(d / "evidence-signing.pub", PUBLIC_PEM), mp),
        "not a readable private key",
    ),
    BrokenKey(
        "garbage PEM in the environment variable",
        lambda d, mp: _in_environment(GARBAGE_PEM, mp),
        "not a readable private key",
        GARBAGE,
    ),
]


def test_a_missing_or_unusable_signing_key_fails_before_any_upload(
    pipeline_env, instance, tmp_path, monkeypatch
):
    measured = run_assets(
        instance, UPSTREAM_OF_BUNDLE, short_run_config(duration="2s", subscribers=2, events=10)
    )
    assert measured.success, step_failures(instance, measured.run_id)
    # pipeline_env's valid key was unset for every case; its lines must not show up either.
    valid_private_lines = pipeline_env.signing_private_pem.splitlines()[1:-1]
    store = pipeline_store()
    before = store.list(store.key() + "/")

    problems = []
    for case in BROKEN_KEYS:
        with monkeypatch.context() as mp:
            mp.delenv("VP_EVIDENCE_SIGNING_KEY", raising=False)
            mp.delenv("VP_EVIDENCE_SIGNING_KEY_FILE", raising=False)
            mp.delenv("VP_EVIDENCE_DEV_KEY_DIR", raising=False)
            case_dir = tmp_path / case.name.replace(" ", "-").replace(",", "")
            case_dir.mkdir()
            named = case.arrange(case_dir, mp)
            result = run_assets(instance, BUNDLE)
        failure = step_failures(instance, result.run_id).get("evidence_bundle")
        if result.success or failure is None:
            problems.append(f"{case.name}: evidence_bundle did not fail")
            continue
        if failure.cls_name != "SigningError":
            problems.append(f"{case.name}: {failure.cls_name}, not SigningError: {failure.message}")
        if named not in failure.message or case.says not in failure.message:
            problems.append(
                f"{case.name}: the message does not name {named!r} and say {case.says!r}: {failure.message}"
            )
        for secret in filter(None, [case.material, *valid_private_lines]):
            if secret in failure.full_text:
                problems.append(f"{case.name}: key material in the error")
        written = store.list(store.key(RC, result.run_id) + "/")
        if written:
            problems.append(f"{case.name}: uploaded before failing: {written}")
    assert not problems, "\n".join(problems)
    assert store.list(store.key() + "/") == before, "a failed signing attempt changed the bucket"
    assert not instance.fetch_materializations(dg.AssetKey("evidence_bundle"), limit=1).records
