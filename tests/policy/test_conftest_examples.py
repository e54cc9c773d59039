"""conftest's own examples and acceptance expectations (tests/fixtures/conftest, copied from
open-policy-agent/conftest): the same exit codes, counts and messages.

Each test names the bats test it reproduces. Where we deliberately differ, the test says why.
"""

from __future__ import annotations

K8S = "examples/kubernetes/policy"


def test_not_fail_when_testing_a_service_with_a_warning(policy_test):
    # acceptance.bats "Not fail when testing a service with a warning" + "The number of tests run is accurate"
    run = policy_test("-p", K8S, "examples/kubernetes/service.yaml", "--no-color")
    assert run.code == 0
    assert run.lines[1] == "5 tests, 4 passed, 1 warning, 0 failures, 0 exceptions"
    assert "Found service hello-kubernetes but services are not allowed" in run.lines[0]


def test_fail_when_testing_a_deployment_with_root_containers(policy_test):
    # "Fail when testing a deployment with root containers" + "Output results only once" (5 lines)
    run = policy_test("-p", K8S, "examples/kubernetes/deployment.yaml")
    assert run.code == 1
    assert len(run.lines) == 5
    assert run.lines[0] == (
        "FAIL - examples/kubernetes/deployment.yaml - main - "
        "Containers must not run as root in Deployment hello-kubernetes"
    )


def test_fail_on_warn(policy_test):
    # "Fail when testing a service with warnings"
    assert policy_test("--fail-on-warn", "-p", K8S, "examples/kubernetes/service.yaml").code == 1


def test_multi_file_fails_when_last_file_is_fine(policy_test):
    # "Multi-file tests correctly fail when last file is fine"
    run = policy_test("-p", K8S, "examples/kubernetes/deployment.yaml", "examples/kubernetes/service.yaml")
    assert run.code == 1


def test_all_namespaces_counts(policy_test):
    # "Should show output because of failure": --all-namespaces on the deployment
    run = policy_test("-p", f"{K8S}/", "examples/kubernetes/deployment.yaml", "--all-namespaces")
    assert run.code == 1
    assert "5 tests, 1 passed, 0 warnings, 4 failures, 0 exceptions" in run.out


def test_json_output_shape(policy_test):
    # acceptance "Can test a Jenkinsfile ... --output json" reads conftest's JSON; here its shape on our example
    run = policy_test("-p", K8S, "examples/kubernetes/deployment+service.yaml", "--output", "json")
    assert run.code == 1
    (result,) = run.json()
    assert result["filename"] == "examples/kubernetes/deployment+service.yaml"
    assert result["namespace"] == "main"
    # two documents judged one by one, reported once: deployment 4 failures + 1 success, service 1 warning + 4
    assert result["successes"] == 5
    assert [f["metadata"]["query"] for f in result["failures"]] == ["data.main.deny"] * 3 + [
        "data.main.violation"
    ]
    assert result["failures"][3] == {
        "msg": "Found deployment hello-kubernetes but deployments are not allowed",
        "metadata": {"details": {}, "query": "data.main.violation"},
    }
    assert result["warnings"] == [
        {
            "msg": "Found service hello-kubernetes but services are not allowed",
            "metadata": {"query": "data.main.warn"},
        }
    ]
    assert "exceptions" not in result  # omitempty, as Go writes it
    assert run.out.startswith('[\n\t{\n\t\t"filename"')  # tab-indented like conftest


def test_exceptions_reported_correctly(policy_test):
    # "Exceptions reported correctly" + "Exceptions output"
    run = policy_test(
        "-p", "examples/exceptions/policy", "examples/exceptions/deployments.yaml", "--no-color"
    )
    assert run.code == 1
    assert run.lines[2] == "2 tests, 0 passed, 0 warnings, 1 failure, 1 exception"
    assert (
        'EXCP - examples/exceptions/deployments.yaml - main - data.main.exception[_][_] == "run_as_root"'
        in run.lines[1]
    )


def test_suppress_exceptions(policy_test):
    # "Suppress exceptions output"
    run = policy_test(
        "-p", "examples/exceptions/policy", "examples/exceptions/deployments.yaml", "--suppress-exceptions"
    )
    assert run.lines[1] == "2 tests, 0 passed, 0 warnings, 1 failure, 1 exception"


def test_combine_yaml_files(policy_test):
    # "Can combine yaml files"
    run = policy_test(
        "-p",
        "examples/combine/policy",
        "examples/combine/team.yaml",
        "examples/combine/user1.yaml",
        "examples/combine/user2.yaml",
        "--combine",
    )
    assert run.code == 1
    assert "2 tests, 1 passed, 0 warnings, 1 failure" in run.out
    assert run.lines[0].startswith("FAIL - Combined - main - Existing users")


def test_combining_multi_document_yaml_has_same_result(policy_test):
    # "Combining multi-document yaml file has same result"
    run = policy_test(
        "-p",
        "examples/combine/policy",
        "examples/combine/team.yaml",
        "examples/combine/users.yaml",
        "--combine",
    )
    assert run.code == 1
    assert "2 tests, 1 passed, 0 warnings, 1 failure" in run.out


def test_kubernetes_combine_names_the_unmatched_deployment(policy_test):
    # examples/kubernetes/combine (conftest verify's combine_test.rego expects this message)
    run = policy_test(
        "-p",
        "examples/kubernetes/combine/combine.rego",
        "examples/kubernetes/combine/combine.yaml",
        "--combine",
        "-o",
        "json",
    )
    assert run.code == 1
    (result,) = run.json()
    assert [f["msg"] for f in result["failures"]] == [
        "Deployment 'goodbye-kubernetes' has no matching service"
    ]


def test_compose_example_hits_a_rego_cpp_gap(policy_test):
    # "Can validate a docker-compose file that does (not) conform to the policy": conftest counts 2 failures /
    # 2 passed. rego-cpp 1.5.2 cannot compile `endswith(input.services[_].image, ...)` (a `[_]` inside a call's
    # argument); the policy is refused, naming the line, never judged wrongly. README: "What regopy cannot do".
    bad = policy_test("-p", "examples/compose/policy", "examples/compose/docker-compose.yml", "--no-color")
    assert bad.code == 2
    assert "examples/compose/policy/deny.rego:7: Rego error: Invalid bracket argument" in bad.err


def test_data_documents(policy_test, tmp_path):
    # "Can load data along with rego policies": conftest's base.rego compares `ports[p].port == services.ports[_]`,
    # which rego-cpp 1.5.2 refuses (exit 2 naming the line); the same rule written `some port in ...` passes
    # conftest's expectation (exit 1, "Cannot expose port") with conftest's own data directory.
    refused = policy_test(
        "-p", "examples/data/policy", "-d", "examples/data/exclusions", "examples/data/service.yaml"
    )
    assert refused.code == 2 and "examples/data/policy/base.rego:19:" in refused.err
    policy = tmp_path / "ports.rego"
    policy.write_text(
        "package main\nimport rego.v1\nimport data.services\n\n"
        "deny contains msg if {\n"
        '\tinput.kind == "Service"\n\tinput.spec.type == "LoadBalancer"\n'
        "\tsome port in input.spec.ports\n\tsome denied in services.ports\n\tport.port == denied\n"
        '\tmsg := sprintf("Cannot expose port %v on LoadBalancer. Denied ports: %v", [port.port, services.ports])\n'
        "}\n"
    )
    run = policy_test("-p", str(policy), "-d", "examples/data/exclusions", "examples/data/service.yaml")
    assert run.code == 1
    assert "Cannot expose port 22 on LoadBalancer. Denied ports: [22, 21]" in run.out
    # without the data document the rule has nothing to compare with: no failure
    assert policy_test("-p", str(policy), "examples/data/service.yaml").code in (0, 2)


def test_multiple_policy_flags(policy_test):
    # tests/multidir "Can have multiple policy flags"
    run = policy_test(
        "--policy", "tests/multidir/org", "--policy", "tests/multidir/team", "tests/multidir/data.json"
    )
    assert run.code == 1
    assert "2 tests, 0 passed, 0 warnings, 2 failures" in run.out


def test_multiple_namespace_flags(policy_test):
    # tests/nested "Can have multiple namespace flags" (and each alone fails)
    args = ("-p", "tests/nested/policy", "tests/nested/data.json")
    run = policy_test("--namespace", "group1", "--namespace", "group2", *args)
    assert run.code == 1 and "2 tests, 0 passed, 0 warnings, 2 failures" in run.out
    assert policy_test("--namespace", "group1", *args).code == 1
    assert policy_test("--namespace", "group2", *args).code == 1


def test_namespace_wildcards(policy_test):
    # "Test command matches every namespace with a wildcard" / "... wildcard prefix", on our kubernetes policies
    every = policy_test(
        "-p", K8S, "examples/kubernetes/deployment.yaml", "--namespace", "*", "-o", "json"
    ).json()
    assert sorted(r["namespace"] for r in every) == ["kubernetes", "main"]
    prefix = policy_test(
        "-p", K8S, "examples/kubernetes/deployment.yaml", "--namespace", "k*", "-o", "json"
    ).json()
    assert [r["namespace"] for r in prefix] == ["kubernetes"]


def test_policy_returning_multiple_failures(policy_test):
    # tests/return-multiple-failures
    run = policy_test(
        "-p", "tests/return-multiple-failures/policy.rego", "tests/return-multiple-failures/file.json"
    )
    assert run.code == 1
    assert "3 tests, 0 passed, 0 warnings, 3 failures" in run.out


def test_rego_versions(policy_test):
    # tests/rego-version: a v0 policy under v1 fails, a v1 policy under v1 passes (conftest exits 1 on the
    # compile error; a policy that cannot be read is bad input here: exit 2, naming the file and line)
    v0 = policy_test(
        "--policy",
        "tests/rego-version/policy/v0.rego",
        "--rego-version",
        "v1",
        "tests/rego-version/data.yaml",
    )
    assert v0.code == 2
    assert "tests/rego-version/policy/v0.rego:3:" in v0.err and "Rego v0" in v0.err
    v1 = policy_test("--policy", "tests/rego-version/policy/v1.rego", "tests/rego-version/data.yaml")
    assert v1.code == 0
    # v0 itself ("V0 Policy with V1 flag disabled"): rewritten to v1 before compiling (tests/policy/test_rego_v0.py)
    v0_as_v0 = policy_test(
        "--policy",
        "tests/rego-version/policy/v0.rego",
        "--rego-version",
        "v0",
        "tests/rego-version/data.yaml",
    )
    assert v0_as_v0.code == 0


def test_problematic_if(policy_test):
    # tests/problematic-if: `deny if { ... }` is refused, the valid forms are not
    bad = policy_test("-p", "tests/problematic-if/policy/invalid.rego", "tests/problematic-if/data.yaml")
    assert bad.code == 2 and "tests/problematic-if/policy/invalid.rego:" in bad.err
    valid = policy_test(
        "--policy", "tests/problematic-if/policy/valid.rego", "tests/problematic-if/data.yaml"
    )
    assert valid.code == 1 and "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions" in valid.out
    bare = policy_test(
        "--policy", "tests/problematic-if/policy/valid_bare_deny.rego", "tests/problematic-if/data.yaml"
    )
    assert bare.code == 0 and "1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions" in bare.out


def test_unknown_namespace_is_named(policy_test):
    # Deliberate difference: conftest passes "a blank namespace" (exit 0, 0 tests); a namespace no package
    # declares is a typo that would pass a gate silently, so here it is bad input that names it.
    run = policy_test("--namespace", "notpresent", "-p", K8S, "examples/kubernetes/deployment.yaml")
    assert run.code == 2
    assert "notpresent" in run.err and "main, kubernetes" in run.err
