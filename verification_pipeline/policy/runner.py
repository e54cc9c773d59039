"""`policy test`: load policies and data from paths, parse files, judge them, print conftest's output.

Paths are walked the way conftest's loader does (every `.rego` under a `--policy` directory,
data files `.json`/`.yaml`/`.yml` under `--data`, each placed in `data` at the path of its
directory below the one given, as OPA's loader does). Every file is size-capped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verification_pipeline.errors import ConfigError, UsageError
from verification_pipeline.fileio import CONFIG_MAX_BYTES, REPORT_MAX_BYTES, read_capped
from verification_pipeline.policy.conftest import CheckResult, Engine
from verification_pipeline.policy.inputs import parse_config
from verification_pipeline.policy.rego import Module, PolicyError

_DATA_SUFFIXES = (".json", ".yaml", ".yml")


def _files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if root.is_dir():
        return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes))
    return [root]


def load_modules(paths: Sequence[Path], rego_version: str = "v1") -> list[Module]:
    """Every `.rego` under `paths` (not `*_test.rego` in a directory); Rego v0 rewritten as v1 (`v0.py`)."""
    from verification_pipeline.policy.v0 import translate_v0

    modules = []
    for root in paths:
        if not root.exists():
            raise PolicyError("no such policy file or directory", source=str(root))
        for path in _files(root, (".rego",)):
            if path.name.endswith("_test.rego") and root.is_dir():
                continue  # `conftest verify`'s unit tests: `test` never queries them
            data = read_capped(path, limit=CONFIG_MAX_BYTES, what="the policy", error=PolicyError)
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PolicyError("a Rego module must be UTF-8 text", source=str(path)) from None
            if rego_version == "v0":
                translated = translate_v0(str(path), source)
                modules.append(
                    Module(
                        name=str(path), source=translated.source, columns=translated.columns.original_column
                    )
                )
            else:
                modules.append(Module(name=str(path), source=source))
    if not modules:
        raise PolicyError(
            f"no policies found in {', '.join(str(p) for p in paths)}",
            hint="give --policy a directory holding .rego files, or a .rego file",
        )
    return modules


def load_data(paths: Sequence[Path]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for root in paths:
        if not root.exists():
            raise ConfigError("no such data file or directory", source=str(root))
        for path in _files(root, _DATA_SUFFIXES):
            document = parse_config(
                read_capped(path, limit=CONFIG_MAX_BYTES, what="the data file", error=ConfigError),
                str(path),
                parser="json" if path.suffix == ".json" else "yaml",
            )
            if not isinstance(document, dict):
                raise ConfigError(
                    "a data document must be an object (key: value) at its top", source=str(path)
                )
            relative = path.parent.relative_to(root).parts if root.is_dir() else ()
            target = data
            for part in relative:
                target = target.setdefault(part, {})
            _merge(target, document, str(path))
    return data


def _merge(into: dict[str, Any], document: dict[str, Any], source: str) -> None:
    for key, value in document.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value, source)
        elif key in into:
            raise ConfigError(f"data key {key!r} is defined twice", source=source)
        else:
            into[key] = value


@dataclass(frozen=True)
class TestOptions:
    namespaces: tuple[str, ...] = ("main",)
    all_namespaces: bool = False
    combine: bool = False
    parser: str | None = None


def run_test(engine: Engine, files: dict[str, Any], options: TestOptions) -> list[CheckResult]:
    """conftest's runner: per namespace, every file (or all of them combined)."""
    namespaces = engine.select_namespaces(options.namespaces, options.all_namespaces)
    results: list[CheckResult] = []
    for namespace in namespaces:
        if options.combine:
            results.append(engine.check_combined(files, namespace))
        else:
            results += [engine.check(path, config, namespace) for path, config in files.items()]
    return results


def read_inputs(paths: Sequence[Path], parser: str | None) -> dict[str, Any]:
    if not paths:
        raise UsageError("no files to test", hint="name one or more configuration files")
    configs: dict[str, Any] = {}
    for path in paths:
        name = str(path)
        if name in configs:
            raise UsageError(f"{name} is named twice")
        configs[name] = parse_config(read_capped(path, limit=REPORT_MAX_BYTES, what="the file"), name, parser)
    return configs


def totals(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {
        "successes": sum(r.successes for r in results),
        "warnings": sum(len(r.warnings) for r in results),
        "failures": sum(len(r.failures) for r in results),
        "exceptions": sum(len(r.exceptions) for r in results),
    }
    counts["tests"] = sum(counts.values())
    return counts


def render_json(results: Sequence[CheckResult]) -> str:
    """conftest's `--output json`: tab-indented, with Go's escaping of <, > and &."""
    text = json.dumps([r.to_json() for r in results], indent="\t", ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_text(results: Sequence[CheckResult], *, suppress_exceptions: bool = False) -> str:
    """conftest's standard output (without colour): one line per message, then the summary."""
    lines = []
    for result in results:
        where = f"- {result.filename} - {result.namespace} -"
        lines += [f"WARN {where} {r.msg}" for r in result.warnings]
        lines += [f"FAIL {where} {r.msg}" for r in result.failures]
        if not suppress_exceptions:
            lines += [f"EXCP {where} {r.msg}" for r in result.exceptions]
    counts = totals(results)

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    summary = (
        f"{plural(counts['tests'], 'test')}, {counts['successes']} passed, {plural(counts['warnings'], 'warning')}, "
        f"{plural(counts['failures'], 'failure')}, {plural(counts['exceptions'], 'exception')}"
    )
    lines += ["", summary]
    return "\n".join(lines)
