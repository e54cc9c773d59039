"""`--rego-version v0`: Rego v0 rewritten to v1 (policy/v0.py) before rego-cpp compiles it.

The end-to-end cases run conftest v0.57.0's own examples (the last release whose examples are
Rego v0; tests/fixtures/conftest/v0.57.0, copied from open-policy-agent/conftest at that tag) and
expect what that release's acceptance.bats expects of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verification_pipeline.policy.heads import read_heads
from verification_pipeline.policy.rego import CompiledPolicy, Module, PolicyError
from verification_pipeline.policy.v0 import translate_v0

V0 = "v0.57.0/examples"
K8S = f"{V0}/kubernetes"


def _v0(policy_test, *args: str):
    return policy_test("--rego-version", "v0", *args)


def test_kubernetes_service_warns_and_passes(policy_test):
    # v0.57.0 acceptance: "The number of tests run is accurate"
    run = _v0(policy_test, "-p", f"{K8S}/policy", f"{K8S}/service.yaml", "--no-color")
    assert run.code == 0
    assert run.lines == [
        f"WARN - {K8S}/service.yaml - main - Found service hello-kubernetes but services are not allowed",
        "5 tests, 4 passed, 1 warning, 0 failures, 0 exceptions",
    ]
    # "Fail when testing a service with warnings"
    assert _v0(policy_test, "--fail-on-warn", "-p", f"{K8S}/policy", f"{K8S}/service.yaml").code == 1


def test_kubernetes_deployment_fails_with_conftests_messages(policy_test):
    # "Fail when testing a deployment with root containers" + "Output results only once" (5 lines)
    # + "Should show output because of failure" (--all-namespaces: 5 tests, 1 passed, 4 failures)
    run = _v0(policy_test, "-p", f"{K8S}/policy/", f"{K8S}/deployment.yaml", "--all-namespaces")
    assert run.code == 1
    assert len(run.lines) == 5
    assert run.lines[-1] == "5 tests, 1 passed, 0 warnings, 4 failures, 0 exceptions"
    assert run.lines[0] == (
        f"FAIL - {K8S}/deployment.yaml - main - Containers must not run as root in Deployment hello-kubernetes"
    )
    # violation[{"msg": msg, "details": {}}] { ... }: an object result, rewritten to `violation contains {...} if`
    assert (
        f"FAIL - {K8S}/deployment.yaml - main - Found deployment hello-kubernetes but deployments are not allowed"
        in run.lines
    )


def test_multiple_input_types(policy_test):
    # "Test command with multiple input type": a TOML and a YAML file, the kubernetes policies
    run = _v0(policy_test, f"{V0}/traefik/traefik.toml", f"{K8S}/service.yaml", "-p", f"{K8S}/policy")
    assert run.code == 0
    assert "Found service hello-kubernetes but services are not allowed" in run.out


def test_exceptions(policy_test):
    # "Exceptions reported correctly" + "Exceptions output": exception[rules] { ... } in v0
    run = _v0(policy_test, "-p", f"{V0}/exceptions/policy", f"{V0}/exceptions/deployments.yaml", "--no-color")
    assert run.code == 1
    assert run.lines[2] == "2 tests, 0 passed, 0 warnings, 1 failure, 1 exception"
    assert run.lines[1] == (
        f'EXCP - {V0}/exceptions/deployments.yaml - main - data.main.exception[_][_] == "run_as_root"'
    )


def test_combine(policy_test):
    # "Can combine yaml files" / "Combining multi-document yaml file has same result"
    for files in (("team.yaml", "user1.yaml", "user2.yaml"), ("team.yaml", "users.yaml")):
        run = _v0(
            policy_test, "-p", f"{V0}/combine/policy", *(f"{V0}/combine/{f}" for f in files), "--combine"
        )
        assert run.code == 1
        assert "2 tests, 1 passed, 0 warnings, 1 failure" in run.out
        assert "Missing users jane.doe@example.com" in run.out


def test_toml_with_a_v0_function(policy_test):
    # "Can parse toml files": check_trusted_ips(ciphers, denylist) { ... } is a v0 function
    run = _v0(policy_test, "-p", f"{V0}/traefik/policy", f"{V0}/traefik/traefik.toml")
    assert run.code == 1
    assert 'Following ciphers are not allowed: ["TLS_RSA_WITH_AES_256_GCM_SHA384"]' in run.out


def test_conftest_rego_version_acceptance(policy_test):
    # tests/rego-version "TEST - V0 Policy with V1 flag disabled" (0) and "V1 Policy with V1 flag disabled"
    # (conftest exits 1 on the parse error; here bad input is 2, naming the file, line and keyword)
    v0 = _v0(policy_test, "--policy=tests/rego-version/policy/v0.rego", "tests/rego-version/data.yaml")
    assert v0.code == 0 and "1 test, 1 passed" in v0.out
    v1 = _v0(policy_test, "--policy=tests/rego-version/policy/v1.rego", "tests/rego-version/data.yaml")
    assert v1.code == 2
    assert "tests/rego-version/policy/v1.rego:3:" in v1.err and "`contains`" in v1.err


# --- the rewrite, rule form by rule form, judged by rego-cpp on the result ---------------------------

FORMS = """package t

import future.keywords.in

default allow = false

allow {
\tinput.user == "admin"
} else = true {
\tinput.user == "root" # a comment { with a brace
} else {
\tinput.user == "ops"
}

double(x) = y {
\ty := x * 2
}

big(x) {
\tx > 10
}

pairs[k] = v {
\tsome k, v in {"a": 1, "b": "{not a body}"}
}

small[x] {
\tsome x in input.items
\tnot big(x)
}

labels := {"app": [1, 2]}
n = c { c := count(input.items) }
raw := `raw { string`
twice := double(21)
"""


@pytest.fixture(scope="module")
def forms() -> CompiledPolicy:
    translated = translate_v0("forms.rego", FORMS)
    assert translated.source.count("\n") == FORMS.count("\n")  # lines kept: errors name the original line
    names = ["allow", "pairs", "small", "labels", "n", "raw", "twice"]
    return CompiledPolicy([Module("forms.rego", translated.source)], [f"t/{name}" for name in names])


@pytest.mark.parametrize(
    ("user", "allowed"), [("admin", True), ("root", True), ("ops", True), ("guest", False)]
)
def test_rule_forms_keep_their_meaning(forms, user, allowed):
    forms.set_input({"user": user, "items": [3, 30, 4]})
    values = dict(zip(forms.entrypoints, (forms.evaluate(e) for e in forms.entrypoints), strict=True))
    assert values["t/allow"] is allowed  # default, else chain with and without a value
    assert values["t/pairs"] == {"a": 1, "b": "{not a body}"}  # partial object; a brace in a string untouched
    assert sorted(values["t/small"]) == [3, 4]  # partial set through a v0 function
    assert values["t/labels"] == {"app": [1, 2]}  # an object literal is not a body
    assert values["t/n"] == 3  # a one-line body
    assert values["t/raw"] == "raw { string"
    assert values["t/twice"] == 42


def test_future_keywords_import_is_dropped_and_v1_modules_left_alone():
    assert "future.keywords" not in translate_v0("m.rego", FORMS).source
    v1 = 'package t\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := "x"\n}\n'
    assert translate_v0("m.rego", v1).source == v1


def test_partial_set_with_future_if_becomes_contains():
    source = 'package t\nimport future.keywords.if\n\ndeny[msg] if {\n\tmsg := "x"\n}\n'
    rewritten = translate_v0("m.rego", source).source
    assert "deny contains msg  if {" in rewritten
    policy = CompiledPolicy([Module("m.rego", rewritten)], ["t/deny"])
    policy.set_input({})
    assert policy.evaluate("t/deny") == ["x"]


@pytest.mark.parametrize(
    ("line", "keyword"),
    [("\tin := 1", "in"), ("\tcontains := 2", "contains"), ("\tevery = 3", "every"), ("\tx := if", "if")],
)
def test_keyword_named_variable_is_refused_naming_its_line(line, keyword):
    source = f'package t\n\ndeny[msg] {{\n{line}\n\tmsg := "x"\n}}\n'
    with pytest.raises(PolicyError) as raised:
        translate_v0("kw.rego", source)
    assert raised.value.source == "kw.rego" and raised.value.line == 4
    assert f"`{keyword}`" in str(raised.value)


def test_calls_and_fields_named_like_keywords_are_kept():
    source = 'package t\n\ndeny[msg] {\n\tcontains(input.in, "x")\n\tmsg := "found"\n}\n'
    policy = CompiledPolicy([Module("m.rego", translate_v0("m.rego", source).source)], ["t/deny"])
    policy.set_input({"in": "xyz"})
    assert policy.evaluate("t/deny") == ["found"]


def test_compile_error_names_the_original_line_and_column():
    # line 3 gains " contains " and "if " before the error: the column reported is the original's
    source = 'package t\n\ndeny[msg] { msg := "a"; input.x == ) }\n'
    translated = translate_v0("bad.rego", source)
    with pytest.raises(PolicyError) as raised:
        CompiledPolicy(
            [Module("bad.rego", translated.source, columns=translated.columns.original_column)], ["t/deny"]
        )
    assert raised.value.source == "bad.rego" and raised.value.line == 3
    column = int(str(raised.value).rsplit("column ", 1)[1].rstrip(")"))
    assert source.splitlines()[2][column - 1 :].startswith(("==", ")")), column


def test_unclosed_bracket_names_its_line():
    with pytest.raises(PolicyError) as raised:
        translate_v0("open.rego", "package t\n\ndeny[msg {\n")
    assert raised.value.line == 3


V0_MODULES = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "fixtures" / "conftest" / "v0.57.0").rglob("*.rego")
    if not p.name.endswith("_test.rego")
)


@pytest.mark.parametrize("path", V0_MODULES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_v0_example_module_rewrites_and_compiles(path):
    # each of conftest v0.57.0's (v0) policy modules copied here: rewritten, its heads read, compiled by rego-cpp;
    # the only refusal allowed is rego-cpp's known `[_]`-in-a-call gap, at the original's line and column
    source = path.read_text()
    translated = translate_v0(str(path), source)
    heads = read_heads(str(path), translated.source)
    entry = f"{heads.namespace.replace('.', '/')}/{heads.rules[0]}"
    try:
        CompiledPolicy([Module(str(path), translated.source, translated.columns.original_column)], [entry])
    except PolicyError as exc:
        assert "Invalid bracket argument" in str(exc), exc
        column = int(str(exc).rsplit("column ", 1)[1].rstrip(")"))
        assert source.splitlines()[exc.line - 1][column - 1] == "_"  # the `_` of `x[_]` in the original line
