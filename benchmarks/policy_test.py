"""`policy test` on 1,000 Kubernetes documents against conftest's kubernetes example policies.

Three ways, in one run, on the same documents and policies (tests/fixtures/conftest):

1. `verification-pipeline policy test -p POLICY docs.yaml -o json` as a user runs it: a fresh
   process (start-up included), the policies compiled once into a regopy bundle, every document
   run against it;
2. the same evaluation one document at a time with a fresh regopy interpreter per document
   (modules added, each rule queried with `Interpreter.query`): what calling regopy naively costs;
3. one interpreter, `Interpreter.query` per rule and document (no bundle): where the time goes.

Every way must produce the same counts (checked, printed), so the comparison is like for like.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
POLICY = REPO / "tests" / "fixtures" / "conftest" / "examples" / "kubernetes" / "policy"
RULES = ("deny", "violation", "warn")


def documents(n: int, seed: int) -> list[dict]:
    """Deployments and Services, some compliant, some not, as a repository of manifests holds them."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        name = f"svc-{i}"
        if rng.random() < 0.5:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name},
                    "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
                }
            )
            continue
        labels = {
            f"app.kubernetes.io/{key}": name
            for key in ("name", "instance", "version", "component", "part-of", "managed-by")
        }
        spec: dict = {"containers": [{"name": name, "image": f"example/{name}:1.{i % 7}"}]}
        if rng.random() < 0.5:
            spec["securityContext"] = {"runAsNonRoot": True}
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "labels": labels if rng.random() < 0.5 else {}},
                "spec": {
                    "replicas": rng.randint(1, 5),
                    "selector": {
                        "matchLabels": {"app": name, "release": "r1"} if rng.random() < 0.5 else {"app": name}
                    },
                    "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
                },
            }
        )
    return docs


def modules() -> list[tuple[str, str]]:
    return [
        (str(p), p.read_text()) for p in sorted(POLICY.glob("*.rego")) if not p.name.endswith("_test.rego")
    ]


def counts_from_values(values: list[dict[str, object]]) -> tuple[int, int]:
    failures = sum(len(v.get("deny") or []) + len(v.get("violation") or []) for v in values)
    warnings = sum(len(v.get("warn") or []) for v in values)
    return failures, warnings


def via_cli(path: Path) -> tuple[float, tuple[int, int]]:
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "verification-pipeline"),
            "policy",
            "test",
            "-p",
            str(POLICY),
            str(path),
            "-o",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    (result,) = json.loads(done.stdout)
    return elapsed, (len(result.get("failures", [])), len(result.get("warnings", [])))


def _query(rego, rule: str) -> list:
    text = str(rego.query(f"data.main.{rule}"))
    if text == "undefined":
        return []
    value = json.loads(text)["expressions"][0]
    return value if isinstance(value, list) else []


def fresh_interpreter_per_document(docs: list[dict]) -> tuple[float, tuple[int, int]]:
    import regopy

    sources = modules()
    started = time.perf_counter()
    values = []
    for doc in docs:
        rego = regopy.Interpreter()
        for name, source in sources:
            rego.add_module(name, source)
        rego.set_input_term(json.dumps(doc))
        values.append({rule: _query(rego, rule) for rule in RULES})
    return time.perf_counter() - started, counts_from_values(values)


def one_interpreter_query_per_rule(docs: list[dict]) -> tuple[float, tuple[int, int]]:
    import regopy

    started = time.perf_counter()
    rego = regopy.Interpreter()
    for name, source in modules():
        rego.add_module(name, source)
    values = []
    for doc in docs:
        rego.set_input_term(json.dumps(doc))
        values.append({rule: _query(rego, rule) for rule in RULES})
    return time.perf_counter() - started, counts_from_values(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    docs = documents(args.documents, args.seed)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifests.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        print(
            f"{len(docs)} documents ({sum(d['kind'] == 'Deployment' for d in docs)} Deployments) in one "
            f"multi-document YAML; policies: {POLICY.relative_to(REPO)}; load average {load[0]:.1f}"
        )
        rows = [
            ("`policy test` CLI (fresh process, compiled once)", *via_cli(path)),
            ("fresh regopy interpreter per document", *fresh_interpreter_per_document(docs)),
            ("one interpreter, `query` per rule (no bundle)", *one_interpreter_query_per_rule(docs)),
        ]
    print("\n| way | wall s | failures | warnings |\n| --- | ---: | ---: | ---: |")
    for way, seconds, (failures, warnings) in rows:
        print(f"| {way} | {seconds:.2f} | {failures} | {warnings} |")
    same = len({row[2] for row in rows}) == 1
    print(f"\nsame counts every way: {same}")
    print(
        f"policy test under 5 s: {rows[0][1] < 5.0}; {rows[1][1] / rows[0][1]:.0f}x faster than a fresh interpreter per document"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if not same:
        raise SystemExit("the ways disagree: the comparison is not like for like")


if __name__ == "__main__":
    main()
