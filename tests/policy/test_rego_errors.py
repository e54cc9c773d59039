"""Only what regopy raises for a policy it refuses becomes "bad input" (exit 2); our own bugs stay bugs (exit 3)."""

from __future__ import annotations

import pytest
import regopy

from verification_pipeline.policy.rego import CompiledPolicy, Module, PolicyError

OK = Module("ok.rego", "package t\n\nx := 1\n")


def test_a_rego_error_is_a_policy_error_naming_the_line():
    with pytest.raises(PolicyError) as raised:
        CompiledPolicy([Module("bad.rego", "package t\n\nx := \n")], ["t/x"])
    assert raised.value.source == "bad.rego" and raised.value.line == 3


def test_data_our_code_cannot_encode_is_not_called_a_policy_that_does_not_compile():
    # a real bug path, no mock: data holding a Python object json cannot encode fails in our own
    # json.dumps before regopy sees anything; it used to be reported as "the policies do not compile"
    with pytest.raises(TypeError):
        CompiledPolicy([OK], ["t/x"], data={"when": object()})


def test_a_non_regopy_exception_exits_3_not_2(policy_test, monkeypatch, tmp_path):
    # Stand-in for a bug inside the engine call (nothing real raises a RuntimeError there on demand).
    monkeypatch.setenv("VP_HOME", str(tmp_path / "home"))

    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug, not a policy error")

    monkeypatch.setattr(regopy.Interpreter, "build", broken)
    run = policy_test("-p", "tests/rego-version/policy/v1.rego", "tests/rego-version/data.yaml")
    assert run.code == 3
    assert "internal error: RuntimeError: a bug, not a policy error" in run.err
