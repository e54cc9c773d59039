"""The vulnerability gate: default rules, allowlist entries that apply, and ones that ran out."""

from __future__ import annotations

from datetime import date

import pytest

from tests.scans.conftest import fixture_bytes
from verification_pipeline.errors import ConfigError
from verification_pipeline.scans import (
    ALLOWLISTED_SCHEMA,
    VIOLATION_SCHEMA,
    VulnerabilityPolicy,
    evaluate_vulnerability_policy,
    load_vulnerability_policy,
    parse_vulnerability_report,
)

TODAY = date(2025, 6, 1)


def vulns(name):
    return parse_vulnerability_report(*fixture_bytes(name)).vulnerabilities


def test_default_fails_on_critical_even_without_a_fix():
    result = evaluate_vulnerability_policy(
        vulns("grype/grype_image_critical_low.json"), VulnerabilityPolicy(), today=TODAY
    )
    assert not result.passed
    assert result.violations.schema == VIOLATION_SCHEMA
    assert result.violations.select("id", "rule").rows() == [("CVE-1999-0002", "fail_on: Critical")]


def test_default_fails_on_high_only_when_a_fix_is_available():
    # wolfi: 2 High with a fix, 1 High with fix state unknown
    result = evaluate_vulnerability_policy(
        vulns("grype/grype_real_wolfi_high.json"), VulnerabilityPolicy(), today=TODAY
    )
    assert result.violations.select("id", "package").rows() == [
        ("CVE-2023-28755", "ruby-3.0"),
        ("GHSA-hv5j-3h9f-99c2", "uri"),
    ]
    assert result.violations["rule"][0] == "fail_on_fixable: High with a fix available (3.0.6-r0)"


def test_low_medium_and_unknown_pass_by_default():
    for name in (
        "grype/grype_real_keycloak_wontfix_low.json",
        "grype/grype_real_ghsa_medium.json",
        "grype/grype_empty.json",
    ):
        assert evaluate_vulnerability_policy(vulns(name), VulnerabilityPolicy(), today=TODAY).passed, name


def test_valid_allowlist_entry_suppresses_and_is_reported():
    policy = load_vulnerability_policy(
        {
            "allowlist": [
                {
                    "id": "cve-1999-0002",
                    "reason": "not reachable: package-2 is only in the build stage",
                    "expires": "2025-07-01",
                }
            ]
        },
        "policy.yaml",
    )
    result = evaluate_vulnerability_policy(vulns("grype/grype_image_critical_low.json"), policy, today=TODAY)
    assert result.passed
    assert result.allowlisted.schema == ALLOWLISTED_SCHEMA
    (row,) = result.allowlisted.to_dicts()
    assert (row["id"], row["allowlist_reason"], row["allowlist_expires"]) == (
        "CVE-1999-0002",
        "not reachable: package-2 is only in the build stage",
        date(2025, 7, 1),
    )
    assert result.expired_entries == ()


@pytest.mark.parametrize("expires", ["2025-06-01", "2024-12-31"], ids=["on-expiry-day", "long-expired"])
def test_expired_entry_no_longer_applies(expires):
    policy = load_vulnerability_policy(
        {"allowlist": [{"id": "CVE-1999-0002", "reason": "accepted for rc1", "expires": expires}]},
        "policy.yaml",
    )
    result = evaluate_vulnerability_policy(vulns("grype/grype_image_critical_low.json"), policy, today=TODAY)
    assert not result.passed
    assert result.allowlisted.height == 0
    assert result.violations["rule"].to_list() == [f"fail_on: Critical; allowlist entry expired on {expires}"]
    assert [e.id for e in result.expired_entries] == ["CVE-1999-0002"]


def test_entry_scoped_to_a_package_leaves_other_packages_failing():
    policy = load_vulnerability_policy(
        {
            "allowlist": [
                {
                    "id": "CVE-2023-28755",
                    "package": "uri",
                    "reason": "uri gem unused",
                    "expires": date(2026, 1, 1),
                }
            ]
        },
        "policy.yaml",
    )
    result = evaluate_vulnerability_policy(vulns("grype/grype_real_wolfi_high.json"), policy, today=TODAY)
    # the uri match of CVE-2023-28755 has no fix, so it never breached; ruby-3.0's match still does
    assert result.violations["package"].to_list() == ["ruby-3.0", "uri"]
    assert result.allowlisted.height == 0


def test_policy_thresholds_are_configurable_and_case_insensitive():
    policy = load_vulnerability_policy(
        b"vulnerability_policy:\n  fail_on: [critical, HIGH, medium]\n  fail_on_fixable: []\n", "slos.yaml"
    )
    assert policy.fail_on == ["Critical", "High", "Medium"]
    result = evaluate_vulnerability_policy(vulns("grype/grype_real_ghsa_medium.json"), policy, today=TODAY)
    assert result.violations.height == 2


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "CVE-1", "expires": "2026-01-01"}, "allowlist[0].reason"),
        ({"id": "CVE-1", "reason": "ok"}, "allowlist[0].expires"),
        ({"reason": "ok", "expires": "2026-01-01"}, "allowlist[0].id"),
        ({"id": "CVE-1", "reason": "   ", "expires": "2026-01-01"}, "allowlist[0].reason"),
        ({"id": "CVE-1", "reason": "ok", "expires": "next year"}, "allowlist[0].expires"),
    ],
)
def test_incomplete_allowlist_entry_is_a_config_error_naming_the_field(entry, field):
    with pytest.raises(ConfigError) as err:
        load_vulnerability_policy({"allowlist": [entry]}, "policy.yaml")
    assert err.value.field == field
    assert str(err.value).startswith(f"policy.yaml [{field}]: ")
    assert "every allowlist entry needs id, reason and expires: YYYY-MM-DD" in str(err.value)


def test_unknown_keys_and_severities_are_refused():
    with pytest.raises(
        ConfigError,
        match=r"\[fail_on_severity\]: unknown key \(known keys: fail_on, fail_on_fixable, allowlist\)",
    ):
        load_vulnerability_policy({"fail_on_severity": ["Critical"]}, "policy.yaml")
    with pytest.raises(ConfigError, match=r"'severe' is not a severity"):
        load_vulnerability_policy({"fail_on": ["severe"]}, "policy.yaml")


def test_bad_yaml_names_the_line():
    with pytest.raises(ConfigError) as err:
        load_vulnerability_policy(b"allowlist:\n  - id: CVE-1\n    reason: [unclosed\n", "policy.yaml")
    assert err.value.source == "policy.yaml" and err.value.line is not None
