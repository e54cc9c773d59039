"""Checks of a bundle with code nobody on this project wrote: securesystemslib's DSSE verifier,
the in-toto-attestation package's Statement and predicate bindings, and hashlib.

Used by the fast interop tests (a bundle assembled by the pipeline's own code) and by the
end-to-end test (a bundle a real pipeline run uploaded), so both are judged the same way.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import google.protobuf.json_format as pb_json
import jsonschema
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.predicates.test_result.v0 import test_result_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

ATTESTATIONS = "attestations.intoto.jsonl"
TEST_RESULT = "https://in-toto.io/attestation/test-result/v0.1"
PROVENANCE = "https://slsa.dev/provenance/v1"
VSA = "https://slsa.dev/verification_summary/v1"
SLSA_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slsa"


def _vsa_message_class() -> Any:
    """in-toto's published VerificationSummary (v1) protobuf message, from its generated module."""
    spec = importlib.util.spec_from_file_location("vsa_v1_pb2", SLSA_FIXTURES / "vsa_pb2.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VerificationSummary


_VSA_MESSAGE: list[Any] = []


def validate_vsa(statement: Mapping[str, Any]) -> None:
    """The VSA predicate against SLSA's requirements (JSON Schema) and in-toto's published protobuf, strictly."""
    predicate = statement["predicate"]
    schema = json.loads((SLSA_FIXTURES / "verification_summary.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(predicate)
    if not _VSA_MESSAGE:
        _VSA_MESSAGE.append(_vsa_message_class())
    # the proto's Verifier has only `id` (the spec also defines `version`): that one field aside, strict
    verifier = {k: v for k, v in predicate["verifier"].items() if k != "version"}
    message = pb_json.ParseDict({**predicate, "verifier": verifier}, _VSA_MESSAGE[0]())
    assert (
        message.verification_result in {"PASSED", "FAILED"} and message.verifier.id and message.resource_uri
    )
    assert message.policy.uri and message.policy.digest and len(message.input_attestations) == 2


def statements_verified_by_securesystemslib(files: Mapping[str, bytes], public_pem: bytes) -> dict[str, dict]:
    """predicateType -> statement, each envelope verified by securesystemslib with the key's default keyid."""
    key = SSlibKey.from_crypto(load_pem_public_key(public_pem))  # keyid computed by securesystemslib
    found: dict[str, dict] = {}
    for line in files[ATTESTATIONS].splitlines():
        if not line.strip():
            continue
        envelope = Envelope.from_dict(json.loads(line))
        assert set(envelope.verify([key], threshold=1)) == {key.keyid}
        statement = json.loads(envelope.payload)
        found[statement["predicateType"]] = statement
    return found


def validate_with_in_toto_attestation(statement: Mapping[str, Any]) -> None:
    """Statement.validate(), every ResourceDescriptor's validate(), and the predicate parsed into its proto."""
    parsed = pb_json.ParseDict(
        {k: v for k, v in statement.items() if k != "predicate"} | {"predicate": statement["predicate"]},
        Statement([], "", {}).pb,
    )
    Statement.copy_from_pb(parsed).validate()
    predicate = statement["predicate"]
    if statement["predicateType"] == VSA:
        validate_vsa(statement)
        return
    if statement["predicateType"] == TEST_RESULT:
        # our fields sit under one extension field (a URI), which the proto cannot hold: ignored
        message = pb_json.ParseDict(predicate, test_result_pb2.TestResult(), ignore_unknown_fields=True)
        assert message.result in {"PASSED", "WARNED", "FAILED"}
        descriptors = list(message.configuration)
        assert descriptors, "test-result v0.1 requires configuration"
    else:
        message = pb_json.ParseDict(predicate, provenance_pb2.Provenance())  # strict: no unknown fields
        assert message.build_definition.build_type and message.run_details.builder.id
        descriptors = list(message.build_definition.resolved_dependencies)
    for descriptor in descriptors:
        ResourceDescriptor.copy_from_pb(descriptor).validate()


def subjects_match_hashlib(statement: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
    if statement["predicateType"] == VSA:  # its subject is the RC's commit; its inputs are the statements
        payloads = [json.loads(line)["payload"] for line in files[ATTESTATIONS].splitlines() if line.strip()]
        digests = {hashlib.sha256(base64.b64decode(p)).hexdigest() for p in payloads}
        assert {a["digest"]["sha256"] for a in statement["predicate"]["inputAttestations"]} <= digests
        assert list(statement["subject"][0]["digest"]) == ["gitCommit"]
        return
    signed = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert signed == {n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n != ATTESTATIONS}


_LOCAL_PATH = re.compile(r"^(/|~|file:|[A-Za-z]:[\\/])|(^|[\s\"'=])/(home|tmp|root|Users|var|work)/")


def absolute_local_paths(value: Any, where: str = "") -> Iterator[str]:
    """Every string value (and key) anywhere in `value` that is, or holds, an absolute local path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from absolute_local_paths(key, f"{where}.{key}[key]")
            yield from absolute_local_paths(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from absolute_local_paths(item, f"{where}[{index}]")
    elif isinstance(value, str) and _LOCAL_PATH.search(value):
        yield f"{where}: {value}"
