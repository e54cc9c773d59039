# The default policies of the release gate: what the seed's release is about, judged on the files
# of the RC's commit (reference_target/deploy/*.yaml for the demo). Rego v1, conftest's conventions:
# each deny_<rule> names what it checks, so a failure names its rule.
#
# Written for rego-cpp 1.5.2 (regopy): iterate with `some x in ...` and bind before comparing;
# `ref[_]` inside a call or on both sides of `==` is what it cannot do (policy/README.md).
package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

containers contains container if {
	input.kind in workload_kinds
	some container in input.spec.template.spec.containers
}

# cost: every container requests and is limited in CPU and memory
deny_resources contains msg if {
	some container in containers
	some kind in ["requests", "limits"]
	some resource in ["cpu", "memory"]
	not container.resources[kind][resource]
	msg := sprintf("%s %s: container %s has no %s.%s", [input.kind, input.metadata.name, container.name, kind, resource])
}

# availability: at least two replicas
deny_replicas contains msg if {
	input.kind == "Deployment"
	replicas := object.get(input.spec, "replicas", 1)
	replicas < 2
	msg := sprintf("Deployment %s runs %v replica(s); at least 2 are required", [input.metadata.name, replicas])
}

deny_hpa_bounds contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	minimum := object.get(input.spec, "minReplicas", 1)
	minimum < 2
	msg := sprintf("HorizontalPodAutoscaler %s: minReplicas %v is below 2", [input.metadata.name, minimum])
}

deny_hpa_bounds contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	minimum := object.get(input.spec, "minReplicas", 1)
	input.spec.maxReplicas < minimum
	msg := sprintf("HorizontalPodAutoscaler %s: maxReplicas %v is below minReplicas %v", [input.metadata.name, input.spec.maxReplicas, minimum])
}

deny_hpa_bounds contains msg if {
	input.kind == "HorizontalPodAutoscaler"
	input.spec.maxReplicas > 50
	msg := sprintf("HorizontalPodAutoscaler %s: maxReplicas %v is above the cost ceiling of 50", [input.metadata.name, input.spec.maxReplicas])
}

# hardening: non-root, read-only root filesystem
runs_as_non_root(container) if container.securityContext.runAsNonRoot == true

runs_as_non_root(_) if input.spec.template.spec.securityContext.runAsNonRoot == true

deny_run_as_root contains msg if {
	some container in containers
	not runs_as_non_root(container)
	msg := sprintf("%s %s: container %s may run as root (set runAsNonRoot: true)", [input.kind, input.metadata.name, container.name])
}

deny_writable_root_filesystem contains msg if {
	some container in containers
	not container.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("%s %s: container %s has a writable root filesystem (set readOnlyRootFilesystem: true)", [input.kind, input.metadata.name, container.name])
}

# supply chain: images pinned by digest
deny_unpinned_image contains msg if {
	some container in containers
	not contains(container.image, "@sha256:")
	msg := sprintf("%s %s: image %s is not pinned by digest (@sha256:...)", [input.kind, input.metadata.name, container.image])
}
