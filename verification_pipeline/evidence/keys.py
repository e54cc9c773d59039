"""Ed25519 signing keys: generate, load from a file or an environment variable, fingerprint.

Ed25519 because its signatures are deterministic (the same bundle signs to the same bytes) and
every verifier an auditor might use supports it. The private key is only ever held by a
`SigningKey`, whose repr and errors never show key material; a bundle carries the public key's
fingerprint and whether it is a dev key, nothing more.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verification_pipeline.errors import InputError, SigningError
from verification_pipeline.fileio import KEY_MAX_BYTES, atomic_write_many, check_output_dir, read_capped

log = logging.getLogger(__name__)

SIGNING_KEY_ENV = "VP_EVIDENCE_SIGNING_KEY"
"""Environment variable that may hold the signing key's PEM text (e.g. from a secret store)."""

PRIVATE_KEY_FILE = "evidence-signing.key"
PUBLIC_KEY_FILE = "evidence-signing.pub"

DEV_KEY_MARKER = "# verification-pipeline DEV signing key: evidence signed with it proves nothing to others"
"""First line of a dev key's PEM file. PEM readers skip text before the BEGIN line, so the key
still loads everywhere, and the marker travels with the key when someone copies it."""


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key, where it came from, and whether it is a throwaway dev key."""

    private_key: Ed25519PrivateKey = field(repr=False)
    source: str
    is_dev_key: bool

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return public_key_fingerprint(self.public_key)

    @property
    def keyid(self) -> str:
        return dsse_keyid(self.public_key)

    def public_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


@dataclass(frozen=True)
class KeyPairFiles:
    """What `generate_key_pair` wrote."""

    private_key: Path
    public_key: Path
    fingerprint: str
    is_dev_key: bool


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """`SHA256:<hex>` of the raw 32-byte public key: what people compare (manifest, `verify`)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def dsse_keyid(public_key: Ed25519PublicKey) -> str:
    """The keyid securesystemslib computes for this key by default (sha256 of the canonical JSON
    of {keytype, scheme, keyval}), so its DSSE verifier finds our signature without being told.
    A hint for verifiers only: ours never trusts it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = {"keytype": "ed25519", "keyval": {"public": raw.hex()}, "scheme": "ed25519"}
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def generate_key_pair(out_dir: Path, *, dev: bool = False) -> KeyPairFiles:
    """Write a new key pair into `out_dir`: the private key 0600, the public key beside it.

    Both files or neither (a private key without its public key is useless and a risk); existing
    key files, or symlinks in their place, are never replaced: a replaced key would orphan
    every bundle it signed.
    """
    check_output_dir(out_dir, what="the key folder")
    private_path = out_dir / PRIVATE_KEY_FILE
    public_path = out_dir / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.is_dir() and not path.is_symlink():
            raise InputError(
                "is a folder, where the key file would go",
                source=str(path),
                hint="choose another --out directory",
            )
        if path.exists() or path.is_symlink():
            raise InputError(
                "a key file (or a link) is already there; keys are never overwritten",
                source=str(path),
                hint="choose another --out directory, or move the old key pair away first",
            )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if dev:
        pem = DEV_KEY_MARKER.encode() + b"\n" + pem
    # the temporary private key is 0600 from its creation (mkstemp), and stays so
    atomic_write_many(
        {private_path: pem, public_path: public_key_pem(key.public_key())},
        modes={private_path: 0o600},
        exclusive=True,
    )
    return KeyPairFiles(private_path, public_path, public_key_fingerprint(key.public_key()), dev)


def load_signing_key_pem(pem: bytes, *, source: str, is_dev_key: bool = False) -> SigningKey:
    """Parse PEM text into a SigningKey; `source` names where it came from in errors (never its bytes)."""
    if b"-----BEGIN" not in pem:
        raise SigningError(
            f"{source} does not hold a PEM private key",
            hint="put the PEM text written by `verification-pipeline keygen` there",
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise SigningError(
            f"{source} holds a password-protected key",
            hint="keep the key unencrypted in a secret store and pass it by file or environment variable",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningError(
            f"{source} is not a readable private key",
            hint="use a PKCS#8 PEM file written by `verification-pipeline keygen`",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(
            f"{source} holds an {type(key).__name__}, not an Ed25519 private key",
            hint="generate an Ed25519 key with `verification-pipeline keygen`",
        )
    return SigningKey(key, source, is_dev_key or pem.lstrip().startswith(DEV_KEY_MARKER.encode()))


def load_signing_key_file(path: Path, *, is_dev_key: bool = False) -> SigningKey:
    if not path.exists():
        raise SigningError(
            f"signing key {path} does not exist",
            hint="create one with `verification-pipeline keygen --out DIR`",
        )
    try:
        pem = read_capped(path, limit=KEY_MAX_BYTES, what="the signing key")
    except InputError as exc:
        raise SigningError(
            f"signing key {path} cannot be read: {exc.message.removeprefix(f'{path}: ')}"
        ) from None
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("signing key %s is readable by other users; chmod 600 it", path)
    return load_signing_key_pem(pem, source=f"signing key {path}", is_dev_key=is_dev_key)


def ensure_dev_key(key_dir: Path) -> SigningKey:
    """The embedded default: a dev key under `key_dir`, created on first use, always marked dev."""
    if not (key_dir / PRIVATE_KEY_FILE).exists():
        generate_key_pair(key_dir, dev=True)
        log.warning("created a DEV signing key in %s: bundles it signs say so", key_dir)
    return load_signing_key_file(key_dir / PRIVATE_KEY_FILE, is_dev_key=True)


def resolve_signing_key(
    *,
    path: Path | None = None,
    env_var: str = SIGNING_KEY_ENV,
    environ: Mapping[str, str] | None = None,
    dev_key_dir: Path | None = None,
) -> SigningKey:
    """The key to sign with: an explicit file, else the environment variable, else a dev key.

    Without `dev_key_dir` there is no silent fallback: a production run without a key fails.
    """
    environ = os.environ if environ is None else environ
    if path is not None:
        return load_signing_key_file(path)
    pem = environ.get(env_var, "")
    if pem.strip():
        return load_signing_key_pem(pem.encode(), source=f"environment variable {env_var}")
    if dev_key_dir is not None:
        return ensure_dev_key(dev_key_dir)
    raise SigningError(
        f"no signing key: neither a key file nor {env_var} was given",
        hint=f"run `verification-pipeline keygen --out DIR` and pass DIR/{PRIVATE_KEY_FILE}, or set {env_var}",
    )


def load_public_key_pem(pem: bytes, *, source: str) -> Ed25519PublicKey:
    """The verifier's trusted key. A wrong file here is bad input (exit 2), not a failed bundle.

    Exactly one PEM block: a PEM reader takes the first block and ignores the rest, so a file
    holding an attacker's key before the trusted one would silently trust the attacker's.
    """
    blocks = pem.count(b"-----BEGIN ")
    if blocks > 1:
        raise InputError(
            f"holds {blocks} PEM blocks; a trusted key file must hold exactly one public key",
            source=source,
            hint="pass the one key you trust, or add --key-set to trust every key in the file (each is named)",
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(
            "not a PEM public key",
            source=source,
            hint=f"pass the {PUBLIC_KEY_FILE} written by `verification-pipeline keygen`, not the private key",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"holds an {type(key).__name__}, not an Ed25519 public key", source=source)
    return key


def load_public_key_file(path: Path) -> Ed25519PublicKey:
    pem = read_capped(path, limit=KEY_MAX_BYTES, what="the public key")
    return load_public_key_pem(pem, source=str(path))


KEY_SET_MAX_KEYS = 32
"""A key set of more keys than this is refused: each key is tried against the bundle, and named."""
_PEM_BLOCK = re.compile(rb"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----\r?\n?", re.DOTALL)


def load_public_key_set_pem(pem: bytes, *, source: str) -> tuple[Ed25519PublicKey, ...]:
    """A key set: one or more PEM public keys, one after the other (`verify --key-set`).

    Every block must be an Ed25519 public key, each key once; text between blocks is allowed
    (PEM's explanatory text) but nothing that looks like another key. Every key is trusted, and
    the verifier names each one and the one that signed.
    """
    blocks = _PEM_BLOCK.findall(pem)
    if not blocks:
        raise InputError(
            "holds no PEM public key", source=source, hint=f"pass {PUBLIC_KEY_FILE} files joined into one"
        )
    if len(blocks) != pem.count(b"-----BEGIN "):
        raise InputError("holds a PEM block without its END line", source=source)
    if len(blocks) > KEY_SET_MAX_KEYS:
        raise InputError(
            f"holds {len(blocks)} keys; a key set holds at most {KEY_SET_MAX_KEYS}", source=source
        )
    keys: list[Ed25519PublicKey] = []
    seen: dict[str, int] = {}
    for number, block in enumerate(blocks, start=1):
        key = load_public_key_pem(block, source=f"{source} (key {number} of {len(blocks)})")
        fingerprint = public_key_fingerprint(key)
        if fingerprint in seen:
            raise InputError(
                f"key {number} is key {seen[fingerprint]} again ({fingerprint})",
                source=source,
                hint="list each trusted key once",
            )
        seen[fingerprint] = number
        keys.append(key)
    return tuple(keys)


def load_public_keys(path: Path, *, key_set: bool) -> tuple[Ed25519PublicKey, ...]:
    """The trusted keys of `--public-key PATH`: exactly one, or with `--key-set` one or more."""
    pem = read_capped(path, limit=KEY_MAX_BYTES, what="the public key")
    if key_set:
        return load_public_key_set_pem(pem, source=str(path))
    return (load_public_key_pem(pem, source=str(path)),)
