# The service's own settings (kind ServiceSettings): the rate limiter on, tenants isolated,
# data kept in its region. A release without them fails.
package main

import rego.v1

deny_rate_limiter contains msg if {
	input.kind == "ServiceSettings"
	not input.spec.limiter.enabled == true
	msg := sprintf("ServiceSettings %s: the rate limiter is not enabled (spec.limiter.enabled)", [input.metadata.name])
}

deny_rate_limiter contains msg if {
	input.kind == "ServiceSettings"
	input.spec.limiter.enabled == true
	not input.spec.limiter.rps_limit > 0
	msg := sprintf("ServiceSettings %s: the rate limiter has no positive rps_limit", [input.metadata.name])
}

deny_tenant_isolation contains msg if {
	input.kind == "ServiceSettings"
	not input.spec.tenancy.isolation == "per-tenant"
	msg := sprintf("ServiceSettings %s: tenant isolation is not per-tenant (spec.tenancy.isolation)", [input.metadata.name])
}

deny_tenant_isolation contains msg if {
	input.kind == "ServiceSettings"
	some limit in ["max_tenants", "max_signals_per_tenant"]
	not input.spec.tenancy[limit] > 0
	msg := sprintf("ServiceSettings %s: spec.tenancy.%s is not set", [input.metadata.name, limit])
}

deny_residency contains msg if {
	input.kind == "ServiceSettings"
	not input.spec.residency.region
	msg := sprintf("ServiceSettings %s: no data residency region (spec.residency.region)", [input.metadata.name])
}

deny_residency contains msg if {
	input.kind == "ServiceSettings"
	region := input.spec.residency.region
	not region in object.get(input.spec.residency, "allowed_regions", [])
	msg := sprintf("ServiceSettings %s: residency region %s is not among allowed_regions", [input.metadata.name, region])
}
