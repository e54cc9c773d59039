"""DSSE envelopes (Dead Simple Signing Envelope, protocol v1.0.0) signed with Ed25519.

The signature covers PAE(payloadType, payload), so neither the type nor the body can be swapped
without breaking it. `keyid` is an unauthenticated hint: the verifier ignores it and tries the
one public key it trusts. As the protocol says, a signature that does not parse or does not
verify is skipped, not fatal: one valid signature by the trusted key suffices.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.keys import SigningKey, public_key_fingerprint

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, body: bytes) -> bytes:
    """Pre-Authentication Encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.

    LEN is the decimal byte length (of the UTF-8 type, not its characters), no leading zeros.
    """
    encoded_type = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(encoded_type), encoded_type, len(body), body)


def sign_envelope(body: bytes, key: SigningKey, *, payload_type: str = INTOTO_PAYLOAD_TYPE) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, body))
    return {
        "payload": base64.b64encode(body).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.keyid, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def verify_envelope(
    envelope: object,
    public_key: Ed25519PublicKey,
    *,
    where: str,
    payload_type: str = INTOTO_PAYLOAD_TYPE,
) -> bytes:
    """The payload bytes, once one signature verifies with `public_key`; else VerificationFailed.

    `where` names the envelope in errors (file and line). Order follows the DSSE protocol:
    decode, verify the signature, then reject an unsupported payload type.
    """
    if not isinstance(envelope, Mapping):
        raise VerificationFailed(f"{where}: not a DSSE envelope (expected a JSON object)")
    payload_text = _field(envelope, "payload", str, where)
    claimed_type = _field(envelope, "payloadType", str, where)
    signatures = _field(envelope, "signatures", list, where)
    body = _b64decode(payload_text, f"{where} [payload]")
    try:
        message = pae(claimed_type, body)
    except UnicodeEncodeError:  # a lone surrogate: no signer could have encoded this type
        raise VerificationFailed(f"{where} [payloadType]: not encodable as UTF-8 text") from None
    if not any(_signature_verifies(entry, message, public_key, where) for entry in signatures):
        raise VerificationFailed(
            f"{where}: no signature verifies with the trusted public key {public_key_fingerprint(public_key)}",
            hint="the envelope was signed with another key or changed after signing",
        )
    if claimed_type != payload_type:
        raise VerificationFailed(f"{where} [payloadType]: {claimed_type!r} is not {payload_type!r}")
    return body


def _signature_verifies(entry: object, message: bytes, public_key: Ed25519PublicKey, where: str) -> bool:
    """False for an entry that is malformed, not base64, or made by another key: skipped."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("sig"), str):
        return False
    try:
        public_key.verify(_b64decode(entry["sig"], f"{where} [signatures.sig]"), message)
    except (InvalidSignature, VerificationFailed):
        return False
    return True


def _field(envelope: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = envelope.get(name)
    if not isinstance(value, kind):
        raise VerificationFailed(f"{where} [{name}]: missing or not a {kind.__name__}")
    return value


def _b64decode(text: str, where: str) -> bytes:
    # DSSE: verifiers MUST accept the standard and the URL-safe alphabet, padded or not.
    normalized = text.translate(str.maketrans("-_", "+/"))
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(f"{where}: not valid base64") from None
