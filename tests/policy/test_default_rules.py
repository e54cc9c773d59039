"""The default policy set (verification_pipeline/policy/rules) on the reference target's deploy files.

The shipped files pass; each edit a careless release would make fails exactly the rule that guards
it, with a message naming the object. This also guards against rego-cpp answering a rule wrongly
(an empty set where a failure belongs, the way some constructs do: policy/README.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from verification_pipeline.policy.conftest import Engine
from verification_pipeline.policy.gate import DEFAULT_POLICY_DIR
from verification_pipeline.policy.runner import load_modules

DEPLOY = Path(__file__).resolve().parents[2] / "reference_target" / "deploy"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_modules([DEFAULT_POLICY_DIR]))


def shipped(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / name).read_text())


def failures(engine: Engine, name: str, document: Any) -> list[tuple[str, str]]:
    result = engine.check(name, document, "main")
    return [(f.metadata["query"].removeprefix("data.main."), f.msg) for f in (result.failures or [])]  # type: ignore[index]


def test_the_shipped_files_pass(engine):
    for path in sorted(DEPLOY.glob("*.yaml")):
        result = engine.check(path.name, yaml.safe_load(path.read_text()), "main")
        assert result.failures == [] and result.successes > 0, path.name


def _container(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]["containers"][0]


def _drop(doc: dict, *keys: str) -> None:
    for key in keys[:-1]:
        doc = doc[key]
    del doc[keys[-1]]


EDITS: list[tuple[str, str, Callable[[dict], None], str, str]] = [
    ("deployment.yaml", "no memory limit", lambda d: _drop(_container(d), "resources", "limits", "memory"),
     "deny_resources", "container api has no limits.memory"),
    ("deployment.yaml", "one replica", lambda d: d["spec"].update(replicas=1),
     "deny_replicas", "Deployment coherence-api runs 1 replica(s)"),
    ("deployment.yaml", "root allowed", lambda d: (d["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")),
     "deny_run_as_root", "container api may run as root"),
    ("deployment.yaml", "writable root fs", lambda d: _container(d)["securityContext"].update(readOnlyRootFilesystem=False),
     "deny_writable_root_filesystem", "container api has a writable root filesystem"),
    ("deployment.yaml", "image by tag", lambda d: _container(d).update(image="registry.example.com/coherence/api:24.1"),
     "deny_unpinned_image", "image registry.example.com/coherence/api:24.1 is not pinned by digest"),
    ("hpa.yaml", "minReplicas 1", lambda d: d["spec"].update(minReplicas=1),
     "deny_hpa_bounds", "minReplicas 1 is below 2"),
    ("hpa.yaml", "max below min", lambda d: d["spec"].update(maxReplicas=2),
     "deny_hpa_bounds", "maxReplicas 2 is below minReplicas 3"),
    ("hpa.yaml", "max above ceiling", lambda d: d["spec"].update(maxReplicas=80),
     "deny_hpa_bounds", "maxReplicas 80 is above the cost ceiling of 50"),
    ("settings.yaml", "limiter off", lambda d: d["spec"]["limiter"].update(enabled=False),
     "deny_rate_limiter", "the rate limiter is not enabled"),
    ("settings.yaml", "limiter without a rate", lambda d: d["spec"]["limiter"].pop("rps_limit"),
     "deny_rate_limiter", "the rate limiter has no positive rps_limit"),
    ("settings.yaml", "shared tenancy", lambda d: d["spec"]["tenancy"].update(isolation="shared"),
     "deny_tenant_isolation", "tenant isolation is not per-tenant"),
    ("settings.yaml", "no tenant cap", lambda d: d["spec"]["tenancy"].pop("max_tenants"),
     "deny_tenant_isolation", "spec.tenancy.max_tenants is not set"),
    ("settings.yaml", "no region", lambda d: d["spec"]["residency"].pop("region"),
     "deny_residency", "no data residency region"),
    ("settings.yaml", "region outside the allowed", lambda d: d["spec"]["residency"].update(region="us-east-1"),
     "deny_residency", "residency region us-east-1 is not among allowed_regions"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "what", "edit", "rule", "message"), EDITS, ids=[e[1] for e in EDITS])
def test_each_edit_fails_its_rule(engine, name, what, edit, rule, message):
    document = copy.deepcopy(shipped(name))
    edit(document)
    found = failures(engine, name, document)
    assert [r for r, _ in found] == [rule], found
    assert message in found[0][1]
