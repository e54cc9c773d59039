"""DSSE: PAE byte for byte as the spec writes it, published vectors, and a verifier that ignores keyid."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.dsse import INTOTO_PAYLOAD_TYPE, pae, sign_envelope, verify_envelope
from verification_pipeline.evidence.keys import SigningKey

# RFC 8032 section 7.1, TEST 1: the key the DSSE test vectors (secure-systems-lab/dsse,
# testvectors/vectors.json) sign with. Ed25519 is deterministic, so our signature must be
# byte-identical to the published one.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
STATEMENT_BODY = b'{"_type":"https://in-toto.io/Statement/v1"}'
PUBLISHED_SIG = "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="


@pytest.fixture
def vector_key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(RFC8032_SEED), "rfc8032 test 1", False)


def test_pae_matches_the_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_lengths_are_byte_lengths_and_an_empty_body_keeps_its_space() -> None:
    assert pae("application/vnd.exämple+json", b"") == b"DSSEv1 29 application/vnd.ex\xc3\xa4mple+json 0 "


def test_signature_is_byte_identical_to_the_published_vector(vector_key: SigningKey) -> None:
    assert vector_key.public_key.public_bytes_raw().hex() == RFC8032_PUBLIC
    envelope = sign_envelope(STATEMENT_BODY, vector_key)
    assert envelope["payload"] == base64.b64encode(STATEMENT_BODY).decode()
    assert envelope["payloadType"] == INTOTO_PAYLOAD_TYPE
    assert envelope["signatures"][0]["sig"] == PUBLISHED_SIG


def test_published_url_safe_vector_verifies(vector_key: SigningKey) -> None:
    envelope = {
        "payload": "-_-_Pj8=",
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [
            {
                "sig": "P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw=="
            }
        ],
    }
    assert verify_envelope(envelope, vector_key.public_key, where="vector") == b"\xfb\xff\xbf>?"


def test_unpadded_base64_is_accepted(vector_key: SigningKey) -> None:
    envelope = sign_envelope(STATEMENT_BODY, vector_key)
    envelope["payload"] = envelope["payload"].rstrip("=")
    envelope["signatures"][0]["sig"] = envelope["signatures"][0]["sig"].rstrip("=")
    assert verify_envelope(envelope, vector_key.public_key, where="e") == STATEMENT_BODY


def test_payload_type_swap_is_rejected(vector_key: SigningKey) -> None:
    envelope = sign_envelope(STATEMENT_BODY, vector_key)
    envelope["payloadType"] = "application/vnd.example.other+json"
    with pytest.raises(VerificationFailed, match="no signature verifies"):
        verify_envelope(envelope, vector_key.public_key, where="e")


def test_correctly_signed_but_unsupported_payload_type_is_rejected(vector_key: SigningKey) -> None:
    envelope = sign_envelope(STATEMENT_BODY, vector_key, payload_type="application/json")
    with pytest.raises(VerificationFailed, match=r"e \[payloadType\]"):
        verify_envelope(envelope, vector_key.public_key, where="e")


def test_keyid_is_not_trusted(vector_key: SigningKey) -> None:
    attacker = SigningKey(Ed25519PrivateKey.generate(), "attacker", False)
    forged = sign_envelope(STATEMENT_BODY, attacker)
    forged["signatures"][0]["keyid"] = vector_key.fingerprint  # claims to be the trusted key
    with pytest.raises(VerificationFailed, match="no signature verifies with the trusted public key"):
        verify_envelope(forged, vector_key.public_key, where="e")
    honest = sign_envelope(STATEMENT_BODY, vector_key)
    honest["signatures"][0]["keyid"] = "anything at all"
    assert verify_envelope(honest, vector_key.public_key, where="e") == STATEMENT_BODY


def test_one_trusted_signature_among_others_is_enough(vector_key: SigningKey) -> None:
    other = sign_envelope(STATEMENT_BODY, SigningKey(Ed25519PrivateKey.generate(), "other", False))
    good = sign_envelope(STATEMENT_BODY, vector_key)
    envelope = {**good, "signatures": other["signatures"] + good["signatures"]}
    assert verify_envelope(envelope, vector_key.public_key, where="e") == STATEMENT_BODY


@pytest.mark.parametrize(
    "malformed",
    [{"keyid": "k"}, {"sig": 42}, {"sig": "%%% not base64"}, "a string", None, {"sig": "AAAA"}],
    ids=["no-sig", "sig-not-a-string", "sig-not-base64", "not-an-object", "null", "too-short"],
)
def test_a_malformed_signature_before_a_valid_one_is_skipped_as_dsse_says(
    malformed: object, vector_key: SigningKey
) -> None:
    good = sign_envelope(STATEMENT_BODY, vector_key)
    envelope = {**good, "signatures": [malformed, *good["signatures"]]}
    assert verify_envelope(envelope, vector_key.public_key, where="e") == STATEMENT_BODY


def test_the_keyid_is_the_one_securesystemslib_computes_by_default(vector_key: SigningKey) -> None:
    from securesystemslib.signer import SSlibKey

    assert sign_envelope(STATEMENT_BODY, vector_key)["signatures"][0]["keyid"] == (
        SSlibKey.from_crypto(vector_key.public_key).keyid
    )


def test_changed_payload_fails(vector_key: SigningKey) -> None:
    envelope = sign_envelope(STATEMENT_BODY, vector_key)
    envelope["payload"] = base64.b64encode(STATEMENT_BODY.replace(b"v1", b"v2")).decode()
    with pytest.raises(VerificationFailed, match="no signature verifies"):
        verify_envelope(envelope, vector_key.public_key, where="e")


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        ([], "not a DSSE envelope"),
        ({"payloadType": INTOTO_PAYLOAD_TYPE, "signatures": []}, r"\[payload\]: missing"),
        (
            {"payload": "e30=", "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": "x"},
            r"\[signatures\]: missing",
        ),
        ({"payload": "e30=", "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": []}, "no signature verifies"),
        (
            {"payload": "e30=", "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": [{"keyid": "k"}]},
            "no signature verifies",
        ),
        ({"payload": "%%%", "payloadType": INTOTO_PAYLOAD_TYPE, "signatures": []}, "not valid base64"),
    ],
)
def test_malformed_envelopes_fail_naming_the_field(
    envelope: object, message: str, vector_key: SigningKey
) -> None:
    with pytest.raises(VerificationFailed, match=message):
        verify_envelope(envelope, vector_key.public_key, where="attestations.intoto.jsonl line 1")
