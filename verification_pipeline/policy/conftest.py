"""conftest's `test` command, evaluated in process: the same rules queried, the same counts.

What conftest does (policy/engine.go, runner/test.go of open-policy-agent/conftest), and so do we:

- a namespace is a Rego package; only `main` unless `--namespace` (a glob when it holds `*?[`)
  or `--all-namespaces`;
- in a namespace, the rules named `deny`/`violation` (or `deny_*`, `violation_*`) fail and
  `warn`/`warn_*` warn; each value's elements are results: a string is a message, an object
  needs a string `msg` (its other keys are metadata, `_loc` its location);
- an `exception` rule whose value holds the rule's name without its prefix (`run_as_root` for
  `deny_run_as_root`; the empty string for plain `deny`) turns that rule, for that document,
  into one exception per match, and its results are not counted;
- a multi-document file is judged document by document and reported once; `--combine` judges
  every document of every file at once, as a list of `{path, contents}` sorted by path;
- successes: one per rule that came back empty, and every rule definition that produced nothing
  counts as passed (conftest's `ruleCount - resultCount`).

Policies compile once (a regopy bundle) and every document runs against the compiled plan.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verification_pipeline.policy.heads import FAILURE, ModuleHeads, read_heads
from verification_pipeline.policy.rego import UNDEFINED, CompiledPolicy, Module, PolicyError

_COLLECTOR = "vp_conftest_collect"
_UNDEFINED = "<undefined: no value for this input>"
_PREFIX = re.compile(r"^(violation_|deny_|warn_)")
_GLOB = re.compile(r"[*?\[]")


@dataclass
class Result:
    """One message: conftest's `{msg, loc, metadata}`."""

    msg: str
    metadata: dict[str, Any] | None = None
    loc: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"msg": self.msg}
        if self.loc:
            out["loc"] = self.loc
        if self.metadata:
            out["metadata"] = dict(sorted(self.metadata.items()))  # Go marshals a map's keys sorted
        return out


@dataclass
class CheckResult:
    """One file (or `Combined`) in one namespace: conftest's CheckResult."""

    filename: str
    namespace: str
    successes: int = 0
    warnings: list[Result] = field(default_factory=list)
    failures: list[Result] = field(default_factory=list)
    exceptions: list[Result] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filename": self.filename,
            "namespace": self.namespace,
            "successes": self.successes,
        }
        for key in ("warnings", "failures", "exceptions"):
            if items := getattr(self, key):
                out[key] = [item.to_json() for item in items]
        return out


def exception_name(rule: str) -> str:
    """The name an `exception` rule lists for `rule`: without deny_/violation_/warn_, "" for the bare ones."""
    return "" if rule in ("deny", "violation", "warn") else _PREFIX.sub("", rule, count=1)


def _message(value: Any, query: str) -> Result | None:
    if isinstance(value, str):
        return Result(msg=value, metadata={"query": query})
    if isinstance(value, dict):
        msg = value.get("msg")
        if not isinstance(msg, str):
            raise PolicyError(f'{query}: a result object needs a string "msg" field, got {sorted(value)}')
        loc = value.get("_loc")
        location = None
        if isinstance(loc, dict) and (loc.get("file") or loc.get("line") is not None):
            location = {k: loc[k] for k in ("file", "line") if loc.get(k) not in (None, "")}
        metadata = {k: v for k, v in value.items() if k not in ("msg", "_loc")}
        metadata["query"] = query
        return Result(msg=msg, metadata=metadata, loc=location)
    return None  # conftest drops results of other types


def _exception_matches(value: Any, name: str) -> int:
    """How many answers `data.NS.exception[_][_] == name` has."""
    if value is UNDEFINED:
        return 0
    outer = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    count = 0
    for inner in outer:
        items = inner.values() if isinstance(inner, dict) else inner if isinstance(inner, list) else []
        count += sum(1 for item in items if item == name)
    return count


class Engine:
    """Policies (and data) loaded once; `check` judges a file's configuration in a namespace."""

    def __init__(self, modules: Sequence[Module], data: Mapping[str, Any] | None = None) -> None:
        if not modules:
            raise PolicyError(
                "no policies found", hint="give --policy a directory or .rego file holding Rego modules"
            )
        self.modules = list(modules)
        self.heads: list[ModuleHeads] = [read_heads(module.name, module.source) for module in modules]
        self._data = dict(data or {})
        # a policy that reads data.conftest.file needs the file's name in data: recompiled per file
        self.reads_file_info = any("data.conftest" in module.source for module in modules)
        self._collected: dict[str, str] = {}  # namespace -> the entry point of its collector
        self._collectors = self._collector_modules()
        self._compiled = self._compile(self._data)

    def _collector_modules(self) -> dict[str, Module]:
        """Per namespace, one generated rule holding every queried rule's value: one query per document.

        A rule that is undefined for the input takes the default `_UNDEFINED` instead, so the one
        object always exists and says which rules had no value (conftest's "no result")."""
        queried: dict[str, list[str]] = {}
        for head in self.heads:
            names = queried.setdefault(head.namespace, [])
            for rule in self._queried(head):
                if rule not in names:
                    names.append(rule)
        modules = {}
        for index, (namespace, rules) in enumerate(sorted(queried.items())):
            if not rules:
                continue
            lines = [f"package {_COLLECTOR}.ns{index}", "", "import rego.v1", ""]
            for number, rule in enumerate(rules):
                lines += [f'default r{number} := "{_UNDEFINED}"', f"r{number} := data.{namespace}.{rule}"]
            pairs = ", ".join(f'"{rule}": r{number}' for number, rule in enumerate(rules))
            lines += [f"result := {{{pairs}}}", ""]
            modules[namespace] = Module(name=f"<{_COLLECTOR} {namespace}>", source="\n".join(lines))
            self._collected[namespace] = f"{_COLLECTOR}/ns{index}/result"
        return modules

    def _compile(self, data: Mapping[str, Any]) -> CompiledPolicy:
        entrypoints = list(self._collected.values()) or [f"{_COLLECTOR}/none"]
        return CompiledPolicy([*self.modules, *self._collectors.values()], entrypoints, data)

    @staticmethod
    def _queried(head: ModuleHeads) -> list[str]:
        return [*head.checked_rules(), *(["exception"] if "exception" in head.rules else [])]

    def rules_by_namespace(self) -> dict[str, list[str]]:
        """namespace -> its checked rules' names (deny*, violation*, warn*), each once, in module order."""
        found: dict[str, list[str]] = {}
        for head in self.heads:
            names = found.setdefault(head.namespace, [])
            for rule in head.checked_rules():
                if rule not in names:
                    names.append(rule)
        return found

    def namespaces(self) -> list[str]:
        seen: list[str] = []
        for head in self.heads:
            if head.namespace not in seen:
                seen.append(head.namespace)
        return seen

    def select_namespaces(self, patterns: Sequence[str], all_namespaces: bool) -> list[str]:
        """conftest's choice: all, or the patterns as globs when one has a glob character, else literally."""
        if all_namespaces:
            return self.namespaces()
        if any(_GLOB.search(pattern) for pattern in patterns):
            return [ns for ns in self.namespaces() if any(fnmatch.fnmatchcase(ns, p) for p in patterns)]
        return list(patterns)

    def _for_file(self, path: str) -> CompiledPolicy:
        if not self.reads_file_info:
            return self._compiled
        name = path.rsplit("/", 1)[-1]
        directory = path.rsplit("/", 1)[0] if "/" in path else "."
        return self._compile({**self._data, "conftest": {"file": {"name": name, "dir": directory}}})

    def check(self, path: str, config: Any, namespace: str) -> CheckResult:
        """One file: a list is a multi-document file, each document judged alone, reported once."""
        compiled = self._for_file(path)
        result = CheckResult(filename=path, namespace=namespace)
        for document in config if isinstance(config, list) else [config]:
            one = self._check_document(compiled, path, document, namespace)
            result.successes += one.successes
            result.failures += one.failures
            result.warnings += one.warnings
            result.exceptions += one.exceptions
        return result

    def check_combined(self, configs: Mapping[str, Any], namespace: str) -> CheckResult:
        combined = []
        for path, config in configs.items():
            for document in config if isinstance(config, list) else [config]:
                combined.append({"path": path, "contents": document})
        combined.sort(key=lambda item: item["path"])
        return self._check_document(self._for_file("Combined"), "Combined", combined, namespace)

    def _check_document(
        self, compiled: CompiledPolicy, path: str, document: Any, namespace: str
    ) -> CheckResult:
        heads = [head for head in self.heads if head.namespace == namespace]
        rules: list[str] = []
        rule_count = 0
        for head in heads:
            for rule in head.checked_rules():
                rule_count += 1
                if rule not in rules:
                    rules.append(rule)
        result = CheckResult(filename=path, namespace=namespace)
        if not rules:
            return result
        compiled.set_input(document)
        values = compiled.evaluate(self._collected[namespace])
        if not isinstance(values, dict):
            raise PolicyError(f"namespace {namespace}: the rules' values could not be collected ({values!r})")
        values = {rule: UNDEFINED if value == _UNDEFINED else value for rule, value in values.items()}
        exception_value = values.get("exception", UNDEFINED)
        successes = 0
        for rule in rules:
            name = exception_name(rule)
            excepted = _exception_matches(exception_value, name)
            query = f"data.{namespace}.exception[_][_] == {_go_quote(name)}"
            result.exceptions += [Result(msg=query) for _ in range(excepted)]
            value = values.get(rule, UNDEFINED)
            if excepted or value is UNDEFINED:
                continue
            items = value if isinstance(value, list) else []
            if not items:
                successes += 1
                continue
            for item in items:
                message = _message(item, f"data.{namespace}.{rule}")
                if message is None:
                    continue
                (result.failures if FAILURE.match(rule) else result.warnings).append(message)
        counted = len(result.failures) + len(result.warnings) + len(result.exceptions) + successes
        result.successes = successes + max(0, rule_count - counted)
        return result


def _go_quote(text: str) -> str:
    """Go's %q of a plain rule name: a double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
