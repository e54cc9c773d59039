"""Field-level checks of the normalized tables: the values a gate or an auditor relies on."""

from __future__ import annotations

import polars as pl

from tests.scans.conftest import fixture_bytes
from verification_pipeline.scans import (
    COMPONENT_SCHEMA,
    POLICY_SCHEMA,
    VULNERABILITY_SCHEMA,
    parse_policy_report,
    parse_report,
    parse_sbom,
    parse_vulnerability_report,
)


def rows(frame: pl.DataFrame) -> list[dict]:
    return frame.cast({c: pl.Utf8 for c in ("severity", "fix_state") if c in frame.columns}).to_dicts()


def test_grype_rows_carry_package_fix_and_target():
    report = parse_vulnerability_report(*fixture_bytes("grype/grype_image_critical_low.json"))
    assert report.vulnerabilities.schema == VULNERABILITY_SCHEMA
    assert (report.tool, report.tool_version) == ("grype", None)  # "[not provided]" is no version
    low, critical = rows(report.vulnerabilities)
    assert low == {
        "id": "CVE-1999-0001",
        "severity": "Low",
        "package": "package-1",
        "version": "1.1.1",
        "package_type": "rpm",
        "purl": None,  # grype wrote ""
        "fix_state": "fixed",
        "fixed_versions": ["1.2.1", "2.1.3", "3.4.0"],
        "source_tool": "grype",
        "target": "user-input",
        "location": "/foo/bar/somefile-1.txt",
    }
    assert critical["fix_state"] == "unknown"  # grype's "" state
    assert critical["purl"] == "pkg:deb/package-2@2.2.2"


def test_grype_directory_target_is_the_path():
    report = parse_report(*fixture_bytes("grype/grype_dir_critical_low.json"))
    assert set(report.vulnerabilities["target"]) == {"/some/path"}


def test_grype_empty_report_is_an_empty_table_with_the_schema():
    report = parse_vulnerability_report(*fixture_bytes("grype/grype_empty.json"))
    assert report.vulnerabilities.height == 0
    assert report.vulnerabilities.schema == VULNERABILITY_SCHEMA
    assert report.policies is None and report.components is None


def test_grype_real_run_records_tool_version_and_ids():
    report = parse_report(*fixture_bytes("grype/grype_real_wolfi_high.json"))
    assert report.tool_version == "0.61.1"
    assert report.vulnerabilities.select("id", "package", "fixed_versions").rows() == [
        ("CVE-2023-28755", "ruby-3.0", ["3.0.6-r0"]),
        ("CVE-2023-28755", "uri", []),
        ("GHSA-hv5j-3h9f-99c2", "uri", ["0.10.2"]),
    ]


def test_trivy_splits_comma_joined_fixed_versions_and_maps_status():
    report = parse_report(*fixture_bytes("trivy/trivy_fluentd_os_and_lang.json"))
    by_id = {r["id"]: r for r in rows(report.vulnerabilities)}
    assert by_id["CVE-2020-8165"]["fixed_versions"] == ["6.0.3.1", "5.2.4.3"]
    assert by_id["CVE-2020-8165"]["target"] == "Ruby"
    assert (
        by_id["CVE-2020-8165"]["location"]
        == "var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec"
    )
    assert by_id["CVE-2019-18276"]["fix_state"] == "not-fixed"  # Status affected
    assert by_id["CVE-2019-18224"]["severity"] == "Critical"  # CRITICAL, any casing


def test_trivy_will_not_fix_is_wont_fix():
    report = parse_report(*fixture_bytes("trivy/trivy_centos7_will_not_fix.json"))
    bash = report.vulnerabilities.filter(pl.col("package") == "bash")
    assert rows(bash)[0]["fix_state"] == "wont-fix"
    assert rows(bash)[0]["fixed_versions"] == []


def test_trivy_multiple_targets_keep_their_target():
    report = parse_report(*fixture_bytes("trivy/trivy_gomod_unknown_severity.json"))
    assert report.vulnerabilities["target"].to_list() == ["go.mod"] * 3 + ["submod/go.mod", "submod2/go.mod"]


def test_trivy_config_scan_is_a_policy_report():
    report = parse_policy_report(*fixture_bytes("trivy/trivy_dockerfile_misconfig.json"))
    assert report.policies.schema == POLICY_SCHEMA
    (row,) = report.policies.to_dicts()
    assert (row["policy"], row["target"], row["passed"], row["failed"]) == ("dockerfile", "Dockerfile", 26, 1)
    assert row["messages"] == [
        "DS-0002 (HIGH): Specify at least 1 USER command in Dockerfile with non-root user as argument"
    ]


def test_grype_sarif_reads_ids_packages_and_severity_from_text():
    report = parse_report(*fixture_bytes("sarif/grype_sarif_image.sarif.json"))
    assert report.tool == "grype"
    low, critical = rows(report.vulnerabilities)
    # the rule id is "CVE-1999-0001-package-1"; the CVSS 8.2 would say High, grype's own word is low
    assert (low["id"], low["severity"], low["package"], low["version"]) == (
        "CVE-1999-0001",
        "Low",
        "package-1",
        "1.1.1",
    )
    assert low["fixed_versions"] == ["1.2.1", "2.1.3", "3.4.0"]
    assert (critical["id"], critical["severity"], critical["purl"]) == (
        "CVE-1999-0002",
        "Critical",
        "pkg:deb/package-2@2.2.2",
    )
    assert critical["package_type"] == "deb"


def test_trivy_sarif_reads_message_fields():
    report = parse_report(*fixture_bytes("sarif/trivy_alpine310.sarif.json"))
    assert report.tool == "trivy"
    assert report.vulnerabilities.select("id", "package", "version", "fixed_versions").rows()[0] == (
        "CVE-2019-1549",
        "libcrypto1.1",
        "1.1.1c-r0",
        ["1.1.1d-r0"],
    )


def test_conftest_sarif_is_a_policy_report_not_vulnerabilities():
    report = parse_policy_report(*fixture_bytes("sarif/conftest_docs_output_md.sarif.json"))
    assert report.vulnerabilities is None
    (row,) = report.policies.to_dicts()
    assert (row["policy"], row["target"], row["warnings"]) == ("main", "examples/kubernetes/service.yaml", 1)


def test_opa_test_names_failures_errors_and_failing_sub_cases():
    report = parse_report(*fixture_bytes("opa/opa_test_JSONReporter_golden.json"))
    by_name = {r["policy"]: r for r in report.policies.to_dicts()}
    assert by_name["data.foo.bar.test_qux"]["errors"] == 1  # "error": {} still means an error
    assert by_name["data.foo.bar.todo_test_qux"]["skipped"] == 1
    assert by_name["data.foo.qux.test_cases_nested"]["messages"] == [
        "failed in policy5.rego (failing cases: two/foo)"
    ]
    docs = parse_report(*fixture_bytes("opa/opa_test_docs_pass_fail_error.json")).policies.to_dicts()
    assert docs[2]["messages"] == ["error at pass_fail_error_test.rego:14: div: divide by zero"]


def test_opa_eval_error_names_code_and_location():
    (row,) = parse_report(*fixture_bytes("opa/opa_eval_error.json")).policies.to_dicts()
    assert row["target"] == "test.rego"
    assert row["messages"][0].startswith("eval_conflict_error at test.rego:5: function data.test.p produced")


def test_opa_eval_deny_set_and_package_values():
    deny = b'{"result": [{"expressions": [{"value": ["no root", {"msg": "no latest tag"}], "text": "data.main.deny"}]}]}'
    (row,) = parse_report(deny, "deny.json").policies.to_dicts()
    assert (row["passed"], row["failed"], row["messages"]) == (0, 2, ["no root", "no latest tag"])
    clean = b'{"result": [{"expressions": [{"value": [], "text": "data.main.deny"}]}]}'
    assert parse_report(clean, "clean.json").policies["passed"].to_list() == [1]
    package = (
        b'{"result": [{"expressions": [{"value": {"deny": [], "warn": ["old api"]}, "text": "data.main"}]}]}'
    )
    (row,) = parse_report(package, "pkg.json").policies.to_dicts()
    assert (row["passed"], row["failed"], row["warnings"]) == (1, 0, 1)
    opaque = b'{"result": [{"expressions": [{"value": 42, "text": "data.main.count"}]}]}'
    assert parse_report(opaque, "n.json").policies["errors"].to_list() == [1]  # cannot judge: never a pass


def test_conftest_messages_include_location():
    (row,) = parse_report(*fixture_bytes("conftest/conftest_docs_index_md_loc.json")).policies.to_dicts()
    assert row["messages"] == ["deny: Violation for some reason. (foo.txt:99999)"]
    (old,) = parse_report(
        *fixture_bytes("conftest/conftest_docs_options_md_failures.json")
    ).policies.to_dicts()
    assert old["policy"] == "main"  # older output without a namespace key


def test_syft_components_with_licenses():
    report = parse_sbom(*fixture_bytes("syft/alpine.syft.json"))
    assert report.components.schema == COMPONENT_SCHEMA
    assert report.tool_version == "0.101.1"
    by_name = {r["name"]: r for r in report.components.to_dicts()}
    assert by_name["musl-utils"]["licenses"] == [
        "BSD",
        "GPL-2.0-or-later",
        "MIT",
    ]  # value when no SPDX expression
    assert by_name["ca-certificates-bundle"]["licenses"] == ["GPL-2.0-or-later", "MPL-2.0"]
    assert by_name["zlib"]["purl"] == "pkg:apk/alpine/zlib@1.2.12-r0?arch=aarch64&distro=alpine-3.12.12"


def test_same_scan_in_three_sbom_formats_gives_the_same_component():
    names = {}
    for name in (
        "syft/syft-json-schema-11.0.0.json",
        "cyclonedx/syft_cyclonedx_1.6.json",
        "spdx/syft_spdx_2.3.json",
    ):
        (row,) = parse_sbom(*fixture_bytes(name)).components.to_dicts()
        names[name] = (row["name"], row["version"], row["purl"])
    assert len(set(names.values())) == 1, names


def test_spdx_tool_from_creators():
    report = parse_sbom(*fixture_bytes("spdx/syft_spdx_2.3.json"))
    assert (report.tool, report.tool_version) == ("syft", "0.91.0")
