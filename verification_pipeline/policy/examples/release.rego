# An example release policy: what a release engineer starts from, then edits.
#
#   verification-pipeline verify BUNDLE --public-key evidence-signing.pub --policy release.rego
#
# `input` is built from the bundle's verified statements and signed files only
# (verification_pipeline/policy/release.py documents every field). Each deny_<rule> names its
# concern; a denial exits 1. Written for rego-cpp 1.5.2: iterate with `some x in ...`.
package main

import rego.v1

# the keys whose signatures a release accepts (fingerprints as `verify` prints them)
allowed_signers := {"ed25519:replace-with-your-release-key-fingerprint"}

# vulnerabilities accepted for this release, each with its reason
waivers := {"CVE-0000-00000": "example: not reachable from the service's code"}

max_age_days := 30

# every SLO PASS, on at least its min_samples
deny_slo contains msg if {
	some slo in input.slos
	slo.verdict != "PASS"
	msg := sprintf("SLO %s is %s, not PASS: %s", [slo.name, slo.verdict, slo.reason])
}

deny_slo contains msg if {
	some slo in input.slos
	slo.min_samples != null
	slo.n < slo.min_samples
	msg := sprintf("SLO %s judged %v samples, fewer than its min_samples %v", [slo.name, slo.n, slo.min_samples])
}

# no critical or high vulnerability without a waiver
deny_vulnerability contains msg if {
	some vuln in input.vulnerabilities
	vuln.severity in {"Critical", "High"}
	not waivers[vuln.id]
	msg := sprintf("%s vulnerability %s in %s %s has no waiver", [vuln.severity, vuln.id, vuln.package, vuln.version])
}

# the comparison with the previous RC is not FAIL
deny_baseline contains msg if {
	input.baseline.verdict == "FAIL"
	msg := sprintf("the baseline comparison is FAIL: %s", [input.baseline.reason])
}

# signed by an allowed key, and not the embedded stack's dev key
deny_signer contains msg if {
	not input.signer.keyid in allowed_signers
	msg := sprintf("signed by %s, which is not an allowed release key", [input.signer.keyid])
}

deny_signer contains msg if {
	input.signer.devKey
	msg := "signed with a DEV key: demo evidence, not release evidence"
}

# recent evidence only
deny_age contains msg if {
	input.ageDays > max_age_days
	msg := sprintf("the bundle is %.0f days old; a release needs evidence younger than %v days", [input.ageDays, max_age_days])
}

warn_policies contains msg if {
	some row in input.policies
	row.warnings > 0
	msg := sprintf("policy %s warned %v time(s) on %s", [row.policy, row.warnings, row.target])
}
