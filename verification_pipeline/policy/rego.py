"""regopy (rego-cpp's Python binding) behind one small interface: compile once, evaluate many.

Why a bundle: `Interpreter.query` compiles the modules again on every call (about 6 ms for
conftest's kubernetes policies), `build` compiles them once into a plan whose entry points then
run in well under a millisecond (benchmarks/RESULTS.md). Why the file descriptor dance: rego-cpp
prints its compile errors to the process's standard output (fd 1) itself, which would corrupt
`--output json`; we capture that text and use its `file:line:column` in our own error.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from verification_pipeline.errors import ConfigError

UNDEFINED: Any = object()  # an entry point with no value for this input (OPA's "undefined")

_WHERE = re.compile(r"^-- (?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\s*$", re.MULTILINE)
_ERRORMSG = re.compile(r"\(errormsg \d+:(?P<msg>[^)\n]*)")
_T = TypeVar("_T")
ColumnMapper = Callable[[int, int], int]
"""(line, column) of a rewritten module (Rego v0 read as v1, `v0.py`) -> the original's column."""


class PolicyError(ConfigError):
    """A policy that cannot be compiled or evaluated: names the module and line when rego-cpp does."""


@contextmanager
def _captured_stdout() -> Iterator[list[str]]:
    """What native code writes to fd 1 while the block runs (rego-cpp's error report)."""
    sink: list[str] = []
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield sink
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            capture.seek(0)
            sink.append(capture.read(64 * 1024).decode("utf-8", "replace"))


def _compile_error(
    printed: str, raised: str, sources: Mapping[str, str], columns: Mapping[str, ColumnMapper] | None = None
) -> PolicyError:
    where = _WHERE.search(printed)
    message = next((line.strip() for line in printed.splitlines()[1:2] if line.strip()), "")
    if not message:
        found = _ERRORMSG.search(raised)
        message = (
            found.group("msg") if found else raised.strip().splitlines()[0] if raised.strip() else "error"
        )
    if where and where.group("file") in sources:
        line, column = int(where.group("line")), int(where.group("col"))
        mapper = (columns or {}).get(where.group("file"))
        return PolicyError(
            f"Rego error: {message} (column {mapper(line, column) if mapper else column})",
            source=where.group("file"),
            line=line,
        )
    return PolicyError(f"Rego error: {message}", source=", ".join(sources) or None)


def _guarded(
    call: Callable[[], _T],
    sources: Mapping[str, str],
    ok: Callable[[_T], bool] = bool,
    columns: Mapping[str, ColumnMapper] | None = None,
) -> _T:
    """`call()`, or a PolicyError from what rego-cpp printed when it raises or `ok(result)` is false."""
    import regopy

    with _captured_stdout() as printed:
        try:
            result = call()
            raised = "the policies do not compile"
        except regopy.RegoError as exc:  # all regopy raises for a module, data or build rego-cpp refused
            raised = str(exc)
    if raised == "the policies do not compile" and ok(result):
        return result
    raise _compile_error(printed[0] if printed else "", raised, sources, columns)


def _always(_: object) -> bool:
    return True


@dataclass(frozen=True)
class Module:
    """One Rego module: the name errors cite (its path) and its source."""

    name: str
    source: str
    columns: ColumnMapper | None = None
    """For a module rewritten from Rego v0: its columns back to the original file's (lines are kept)."""


class CompiledPolicy:
    """Modules and data compiled once for a fixed set of entry points (`main/deny`)."""

    def __init__(self, modules: list[Module], entrypoints: list[str], data: Mapping[str, Any] | None = None):
        import regopy

        self._sources = {module.name: module.source for module in modules}
        self._columns = {module.name: module.columns for module in modules if module.columns}
        self._rego = regopy.Interpreter()
        if data:
            _guarded(lambda: self._rego.add_data_json(json.dumps(data)), self._sources, ok=_always)
        for module in modules:
            self._add_module(module)
        self.entrypoints = tuple(entrypoints)
        self._bundle = _guarded(
            lambda: self._rego.build(None, list(entrypoints)),
            self._sources,
            ok=lambda bundle: bundle.ok(),
            columns=self._columns,
        )

    def _add_module(self, module: Module) -> None:
        _guarded(
            lambda: self._rego.add_module(module.name, module.source),
            self._sources,
            ok=_always,
            columns=self._columns,
        )

    def set_input(self, document: Any) -> None:
        """The input every following `evaluate` sees (conftest: one configuration document)."""
        import regopy

        # regopy.Input builds the value through the C API: a third faster than parsing JSON text as a term
        self._rego.set_input(regopy.Input(document))

    def evaluate(self, entrypoint: str) -> Any:
        """The entry point's value for the current input, or UNDEFINED."""
        from regopy import rego_shared

        handle = rego_shared.rego_bundle_query_entrypoint(self._rego._impl, self._bundle._impl, entrypoint)
        try:
            ok = rego_shared.rego_output_ok(handle)
            text = rego_shared.rego_output_string(handle)
        finally:
            rego_shared.rego_free_output(handle)
        if ok and text == "undefined":
            return UNDEFINED
        if ok and not text.lstrip().startswith("("):
            try:
                expressions = json.loads(text).get("expressions") or []
            except json.JSONDecodeError:
                raise PolicyError(
                    f"rego-cpp returned a value that is not JSON for {entrypoint.replace('/', '.')}: a rego-cpp 1.5.2 "
                    "defect (sprintf of a string literal first bound to a variable in the rule body prints it "
                    "with unescaped quotes)",
                    source=", ".join(self._sources),
                    hint='pass the literal to sprintf directly (sprintf("%s", ["3.6.1"])) or bind it outside the rule',
                ) from None
            return expressions[0] if expressions else UNDEFINED
        found = _ERRORMSG.search(text)
        raise PolicyError(
            f"Rego evaluation error in {entrypoint.replace('/', '.')}: {found.group('msg') if found else text.strip()}",
            source=", ".join(self._sources),
        )
