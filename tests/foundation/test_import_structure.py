"""The walls between packages (ARCHITECTURE.md): no import cycle between the pipeline's packages,
plain modules never import Dagster or `defs/`, nothing imports the CLI, and the pipeline never
imports the reference target (only the CLI mounts its commands; the stack starts it as a process).

The imports are read from the source with `ast`, every import statement wherever it stands
(function-level imports included), so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "verification_pipeline"
TARGET = ROOT / "reference_target"

# Packages (and top-level modules) that may import Dagster: the Dagster layer, the code location,
# and the run-time tooling that drives it; the CLI reaches Dagster only through `execution`.
DAGSTER_LAYER = {"defs", "definitions", "execution", "cli"}


def _imports(path: Path) -> Iterator[str]:
    """Absolute dotted names `path` imports (relative imports resolved against its own package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _unit(dotted: str) -> str | None:
    """The pipeline package (or top-level module) a dotted name falls in, or None outside it."""
    head, _, rest = dotted.partition(".")
    if head != "verification_pipeline" or not rest:
        return None
    return rest.split(".")[0]


def _edges() -> dict[str, set[tuple[str, str]]]:
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in PIPELINE.rglob("*.py"):
        unit = path.relative_to(PIPELINE).parts[0].removesuffix(".py")
        for name in _imports(path):
            target = _unit(name)
            if target and target != unit:
                edges.setdefault(unit, set()).add((target, str(path.relative_to(ROOT))))
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_the_pipelines_packages():
    edges = _edges()
    graph = {unit: {target for target, _ in targets} for unit, targets in edges.items()}
    cycles = _cycles(graph)
    detail = [
        f"{' <-> '.join(cycle)}: "
        + ", ".join(sorted(f"{where} imports {t}" for u in cycle for t, where in edges[u] if t in cycle))
        for cycle in cycles
    ]
    assert not cycles, "import cycles between packages:\n" + "\n".join(detail)


def test_the_cycle_finder_sees_a_cycle_through_three_packages():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}}) == []


@pytest.mark.parametrize(
    ("forbidden", "allowed_in"),
    [
        ("dagster", DAGSTER_LAYER),
        ("dagster_aws", DAGSTER_LAYER),
        ("verification_pipeline.defs", DAGSTER_LAYER),
        ("verification_pipeline.definitions", DAGSTER_LAYER),
        ("verification_pipeline.cli", {"cli"}),
        ("reference_target", {"cli"}),
    ],
)
def test_each_package_imports_only_what_its_layer_may(forbidden, allowed_in):
    offenders = []
    for path in PIPELINE.rglob("*.py"):
        unit = path.relative_to(PIPELINE).parts[0].removesuffix(".py")
        if unit in allowed_in:
            continue
        for name in _imports(path):
            if name == forbidden or name.startswith(forbidden + "."):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
                break
    assert not offenders, "\n".join(offenders)


def test_the_reference_target_is_its_own_package_and_leans_only_on_the_foundation():
    """It may use the pipeline's error types and atomic file writes, nothing that measures or judges."""
    assert (TARGET / "__init__.py").is_file()
    assert not (PIPELINE / "target").exists()
    foundation = {"errors", "fileio"}
    leaning = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in TARGET.rglob("*.py")
        for name in _imports(path)
        if (unit := _unit(name)) and unit not in foundation
    )
    assert not leaning, "\n".join(leaning)
