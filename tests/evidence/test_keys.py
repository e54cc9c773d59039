"""Signing keys: 0600 files, the sources they load from, clear errors that never show key material."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verification_pipeline.errors import InputError, SigningError
from verification_pipeline.evidence.keys import (
    DEV_KEY_MARKER,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    SIGNING_KEY_ENV,
    ensure_dev_key,
    generate_key_pair,
    load_public_key_file,
    load_signing_key_file,
    load_signing_key_pem,
    resolve_signing_key,
)


def _secret_fragments(pem: bytes) -> list[str]:
    """Strings that would betray the private key if they showed up in a message."""
    key = serialization.load_pem_private_key(pem, password=None)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith((b"-----", b"#")))
    return [raw.hex(), base64.b64encode(raw).decode(), body.decode()[:24], body.decode()[-24:]]


def test_keygen_writes_private_key_0600_and_a_matching_public_key(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path / "keys")
    assert files.private_key.name == PRIVATE_KEY_FILE and files.public_key.name == PUBLIC_KEY_FILE
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    key = load_signing_key_file(files.private_key)
    assert not key.is_dev_key
    assert key.public_pem() == files.public_key.read_bytes()
    assert key.fingerprint == files.fingerprint and files.fingerprint.startswith("SHA256:")
    assert load_public_key_file(files.public_key).public_bytes_raw() == key.public_key.public_bytes_raw()


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    first = generate_key_pair(tmp_path)
    before = first.private_key.read_bytes()
    with pytest.raises(InputError, match="never overwritten"):
        generate_key_pair(tmp_path)
    assert first.private_key.read_bytes() == before


def test_key_loads_from_environment_variable_content(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path)
    environ = {SIGNING_KEY_ENV: files.private_key.read_text()}
    key = resolve_signing_key(environ=environ)
    assert key.fingerprint == files.fingerprint
    assert key.source == f"environment variable {SIGNING_KEY_ENV}"


def test_explicit_path_wins_over_environment(tmp_path: Path) -> None:
    chosen = generate_key_pair(tmp_path / "a")
    other = generate_key_pair(tmp_path / "b")
    key = resolve_signing_key(
        path=chosen.private_key, environ={SIGNING_KEY_ENV: other.private_key.read_text()}
    )
    assert key.fingerprint == chosen.fingerprint


def test_no_key_anywhere_is_a_clear_error_not_a_silent_dev_key() -> None:
    with pytest.raises(SigningError, match=f"no signing key.*{SIGNING_KEY_ENV}"):
        resolve_signing_key(environ={})


def test_dev_key_is_created_once_marked_and_recognised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = resolve_signing_key(environ={}, dev_key_dir=tmp_path)
    assert first.is_dev_key and "DEV signing key" in caplog.text
    assert (tmp_path / PRIVATE_KEY_FILE).read_text().startswith(DEV_KEY_MARKER)
    assert ensure_dev_key(tmp_path).fingerprint == first.fingerprint
    # The marker travels with the key: loaded through the ordinary path it still says dev.
    assert load_signing_key_file(tmp_path / PRIVATE_KEY_FILE).is_dev_key
    pem = (tmp_path / PRIVATE_KEY_FILE).read_bytes()
    assert not any(fragment in caplog.text for fragment in _secret_fragments(pem))


def test_missing_key_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match=r"nope\.key does not exist.*keygen"):
        load_signing_key_file(tmp_path / "nope.key")


def test_unreadable_key_file_is_a_signing_error(tmp_path: Path) -> None:
    with pytest.raises(SigningError, match="cannot be read"):
        load_signing_key_file(tmp_path)  # a directory: read_bytes fails with an OSError


@pytest.mark.parametrize(
    ("pem", "expected"),
    [
        (
            rsa.generate_private_key(65537, 2048).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "RSAPrivateKey, not an Ed25519 private key",
        ),
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "not an Ed25519 private key",
        ),
        (
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pass phrase"),
            ),
            "password-protected",
        ),
        (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            "not a readable private key",
        ),
        (
            b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n",
            "not a readable private key",
        ),
        (b"just some text", "does not hold a PEM private key"),
    ],
    ids=["rsa", "ecdsa", "encrypted", "public-key", "corrupt-pem", "not-pem"],
)
def test_wrong_key_material_is_refused_without_echoing_it(pem: bytes, expected: str) -> None:
    with pytest.raises(SigningError, match=expected) as caught:
        load_signing_key_pem(pem, source="environment variable X")
    message = str(caught.value)
    assert "environment variable X" in message
    for line in pem.splitlines():
        if line and not line.startswith(b"-----"):
            assert line.decode() not in message


def test_signing_key_repr_and_errors_hide_the_private_key(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path)
    pem = files.private_key.read_bytes()
    key = load_signing_key_file(files.private_key)
    shown = repr(key) + str(key)
    assert not any(fragment in shown for fragment in _secret_fragments(pem))


def test_private_key_given_as_trusted_public_key_is_bad_input(tmp_path: Path) -> None:
    files = generate_key_pair(tmp_path)
    with pytest.raises(InputError, match="not a PEM public key") as caught:
        load_public_key_file(files.private_key)
    assert caught.value.exit_code == 2
    assert not any(
        fragment in str(caught.value) for fragment in _secret_fragments(files.private_key.read_bytes())
    )


def test_group_readable_key_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = generate_key_pair(tmp_path)
    files.private_key.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        load_signing_key_file(files.private_key)
    assert "readable by other users" in caplog.text
