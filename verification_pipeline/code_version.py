"""An asset's code version, derived from the code: its module and what it imports from this package.

Dagster marks an asset stale when its code version changes, and the bundle's provenance signs
it, so it must change whenever the code that computes the asset does. The version is a digest
of the source of the asset's defining module and of every module of `verification_pipeline` it
imports, transitively (found by reading the imports, not by running them). Data files the
code reads (templates, k6 scripts) are signed by digest elsewhere; this covers the Python.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "verification_pipeline"
PACKAGE_DIR = Path(__file__).resolve().parent
DIGITS = 16


def code_version(module: str, *, root: Path = PACKAGE_DIR, package: str = PACKAGE) -> str:
    """The digest of `module` and the package modules it imports; same code, same version."""
    digest = hashlib.sha256()
    for name in sorted(_closure(module, root, package)):
        digest.update(f"{name}\0{_source_digest(_module_file(name, root, package))}\n".encode())
    return digest.hexdigest()[:DIGITS]


def _closure(module: str, root: Path, package: str) -> set[str]:
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen or _module_file(name, root, package) is None:
            continue
        seen.add(name)
        pending.extend(_imports(name, root, package))
    return seen


@cache
def _imports(module: str, root: Path, package: str) -> tuple[str, ...]:
    """The package modules `module` imports, with the packages that hold them (Python runs their __init__)."""
    path = _module_file(module, root, package)
    assert path is not None
    tree = ast.parse(path.read_bytes(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.add(base)
            # `from package import name`: `name` may be a module of its own
            found.update(f"{base}.{alias.name}" for alias in node.names)
    names: set[str] = set()
    for name in found:
        if name == package or name.startswith(package + "."):
            parts = name.split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return tuple(sorted(names))


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


@cache
def _module_file(module: str, root: Path, package: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != package:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _source_digest(path: Path | None) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""
