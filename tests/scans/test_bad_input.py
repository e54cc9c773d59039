"""Bad report files fail with our typed error, naming the file and where in it."""

from __future__ import annotations

import json

import pytest

from tests.scans.conftest import fixture_bytes
from verification_pipeline.errors import FormatError, InputError, NoDataError
from verification_pipeline.scans import (
    parse_policy_report,
    parse_report,
    parse_sbom,
    parse_vulnerability_report,
)


def test_malformed_json_names_file_line_and_column():
    data = b'{\n  "matches": [\n    {"vulnerability": {"id": "CVE-1" "severity": "High"}}\n  ]\n}\n'
    with pytest.raises(FormatError) as err:
        parse_report(data, "reports/vulns.grype.json")
    assert err.value.source == "reports/vulns.grype.json"
    assert err.value.line == 3
    assert str(err.value).startswith(
        "reports/vulns.grype.json:3: malformed JSON: Expecting ',' delimiter at column 38"
    )


@pytest.mark.parametrize("keep", [0.5, 0.999, -2], ids=["mid-string", "near-end", "last-brace-missing"])
def test_truncated_file_says_it_ends_early(keep):
    data, _ = fixture_bytes("grype/grype_real_wolfi_high.json")
    cut = data[: int(len(data) * keep)] if keep > 0 else data.rstrip()[: keep + 1]
    with pytest.raises(FormatError) as err:
        parse_report(cut, "s3://bucket/rc1/vulns.json")
    assert err.value.line is not None and err.value.line <= cut.count(b"\n") + 1
    assert str(err.value).startswith(
        f"s3://bucket/rc1/vulns.json:{err.value.line}: the file ends early (truncated?)"
    )


@pytest.mark.parametrize("data", [b"", b"   \n\t\n", b"\xef\xbb\xbf\n", "\n".encode("utf-16")])
def test_empty_file_is_an_error(data):
    with pytest.raises(FormatError, match=r"^empty.json: the file is empty"):
        parse_report(data, "empty.json")


def test_wrong_format_lists_accepted_formats_and_the_keys_it_saw():
    data = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {}}).encode()
    with pytest.raises(FormatError) as err:
        parse_report(data, "service.json")
    message = str(err.value)
    assert message.startswith(
        "service.json: unknown report format; saw top-level keys: apiVersion, kind, metadata"
    )
    for label in (
        "grype JSON",
        "trivy JSON",
        "SARIF 2.1.0",
        "syft JSON",
        "CycloneDX JSON",
        "SPDX 2.x JSON",
        "OPA eval",
        "OPA test",
        "conftest JSON",
    ):
        assert label in message


def test_non_json_text_is_malformed_at_line_one():
    with pytest.raises(FormatError, match=r"^README.md:1: malformed JSON: Expecting value at column 1"):
        parse_report(b"# Scan-report fixtures\n", "README.md")


def test_xml_and_tag_value_sboms_say_what_to_export():
    with pytest.raises(FormatError, match=r"looks like XML; .*cyclonedx-json"):
        parse_report(b'<?xml version="1.0"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>', "bom.xml")
    with pytest.raises(FormatError, match=r"SPDX tag-value; .*spdx-json"):
        parse_report(b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n", "sbom.spdx")


def test_binary_garbage_is_not_text():
    with pytest.raises(FormatError, match=r"^blob.gz:1: not valid UTF-8 text"):
        parse_report(b"\x1f\x8b\x08\x00\xff\xfe", "blob.gz")


def test_utf16_report_from_powershell_is_read():
    data, _ = fixture_bytes("grype/grype_empty.json")
    report = parse_report(data.decode().encode("utf-16"), "ps.json")
    assert report.vulnerabilities.height == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"matches":[],"source":{},\n"n":' + b"1" * 4301 + b"}",
            r"^g\.json:2: holds an integer of more than 4300 digits",
        ),
        (
            b'{"matches":[{"vulnerability":{"id":"\\ud800"},"artifact":{"name":"openssl"}}],"source":{}}',
            r"^g\.json \[matches\[0\]\.vulnerability\.id\]: holds an unpaired UTF-16 surrogate",
        ),
        (b"[" * 100_000, r"^g\.json: nested too deeply to be a JSON scan report"),
        (
            b'[{"filename": "svc.yaml", "successes": 9223372036854775808}]',
            r"^g\.json \[\[0\]\.successes\]: a count above 1,000,000,000,000 is beyond any real count",
        ),
    ],
    ids=["huge-int", "lone-surrogate", "deep", "count-past-int64"],
)
def test_json_that_decodes_to_no_usable_value_names_file_and_place(data: bytes, message: str):
    with pytest.raises(FormatError, match=message):
        parse_report(data, "g.json")


def test_empty_array_and_undefined_opa_result_hold_no_data():
    with pytest.raises(NoDataError, match="empty JSON array"):
        parse_report(b"[]", "opa.json")
    with pytest.raises(NoDataError, match=r"opa eval.*undefined"):
        parse_report(b"{}\n", "eval.json")


def test_wrong_field_type_names_the_field_path():
    doc = json.loads(fixture_bytes("grype/grype_image_critical_low.json")[0])
    doc["matches"][1]["vulnerability"]["fix"] = "none"
    with pytest.raises(FormatError) as err:
        parse_report(json.dumps(doc).encode(), "g.json")
    assert err.value.field == "matches[1].vulnerability.fix"
    assert str(err.value) == "g.json [matches[1].vulnerability.fix]: expected an object, got a string"


def test_missing_required_field_is_named():
    doc = json.loads(fixture_bytes("trivy/trivy_centos7_will_not_fix.json")[0])
    del doc["Results"][0]["Vulnerabilities"][2]["VulnerabilityID"]
    with pytest.raises(
        FormatError, match=r"\[Results\[0\]\.Vulnerabilities\[2\]\.VulnerabilityID\]: required field"
    ):
        parse_report(json.dumps(doc).encode(), "t.json")


def test_a_report_of_the_wrong_kind_is_refused_with_what_is_accepted():
    with pytest.raises(FormatError) as err:
        parse_sbom(*fixture_bytes("grype/grype_empty.json"))
    assert "expected a sbom report but this is grype JSON" in str(err.value)
    assert "syft JSON" in str(err.value) and "SPDX" in str(err.value)
    with pytest.raises(FormatError, match="expected a vulnerabilities report"):
        parse_vulnerability_report(*fixture_bytes("opa/opa_eval_boolean.json"))
    with pytest.raises(FormatError, match="expected a policy report but this is trivy JSON"):
        parse_policy_report(*fixture_bytes("trivy/trivy_centos7_will_not_fix.json"))


def test_errors_are_input_errors_for_exit_code_2():
    with pytest.raises(InputError) as err:
        parse_report(b"{", "x.json")
    assert err.value.exit_code == 2
