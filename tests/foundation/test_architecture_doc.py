"""ARCHITECTURE.md stays true: every path it names exists, every package of the pipeline is on its
map, and the imports each package's row allows are the imports it makes."""

from __future__ import annotations

import re

from tests.foundation.test_import_structure import PIPELINE, ROOT, _edges

DOC = ROOT / "ARCHITECTURE.md"
_ROOTS = ("verification_pipeline/", "reference_target/", "tests/", "benchmarks/")
_CODE = re.compile(r"`([^`\s]+)`")


def _named_paths(text: str) -> set[str]:
    """Backticked names that are paths in the repository (package-relative ones like `cli/crash.py` too)."""
    paths = set()
    for token in _CODE.findall(text):
        if token.startswith(_ROOTS):
            paths.add(token)
        elif re.fullmatch(r"[a-z_]+/([a-z_]+/)*([a-z_]+\.py)?", token):
            paths.add(f"verification_pipeline/{token}")
    return paths


def _units() -> set[str]:
    """The pipeline's packages and top-level modules, as the import walls count them."""
    return {
        path.name if path.is_dir() else path.stem
        for path in PIPELINE.iterdir()
        if (path.is_dir() and (path / "__init__.py").is_file())
        or (path.suffix == ".py" and path.stem != "__init__")
    }


def _ground_floor(text: str) -> set[str]:
    section = text.split("**The ground floor**", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`verification_pipeline/([a-z_]+)\.py`", section))


def _table(text: str) -> dict[str, set[str]]:
    """The code map's table: package -> the packages its row says it may import (besides the ground floor)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `verification_pipeline/([a-z_]+)/` \|[^|]*\|(.*)\|\s*$", line)
        if match:
            rows[match[1]] = {name.split(".")[0] for name in re.findall(r"`([a-z_.]+)`", match[2])}
    return rows


def test_every_path_the_map_names_exists():
    missing = sorted(p for p in _named_paths(DOC.read_text(encoding="utf-8")) if not (ROOT / p).exists())
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"


def test_the_check_reads_paths_as_the_map_writes_them():
    named = _named_paths("`cli/crash.py`, `defs/load/`, `tests/plugins/`, `slos.yaml`, `PASS`, `verify`")
    assert named == {
        "verification_pipeline/cli/crash.py",
        "verification_pipeline/defs/load/",
        "tests/plugins/",
    }


def test_every_package_of_the_pipeline_is_on_the_map():
    text = DOC.read_text(encoding="utf-8")
    named = {
        p.removeprefix("verification_pipeline/").split("/")[0].removesuffix(".py") for p in _named_paths(text)
    }
    missing = sorted(_units() - named)
    assert not missing, f"packages missing from ARCHITECTURE.md: {missing}"


def test_each_domain_package_imports_what_its_row_allows():
    text = DOC.read_text(encoding="utf-8")
    ground = _ground_floor(text)
    table = _table(text)
    assert {"slo", "evidence", "loadtest"} <= set(table) and {"errors", "verdict"} <= ground
    edges = _edges()
    beyond = sorted(
        f"{package} imports {target} ({where})"
        for package, allowed in table.items()
        for target, where in edges.get(package, ())
        if target not in allowed | ground
    )
    assert not beyond, "imports ARCHITECTURE.md's table does not allow:\n" + "\n".join(beyond)
    ground_beyond = sorted(
        f"{module} imports {target} ({where})"
        for module in ground
        for target, where in edges.get(module, ())
        if target not in ground
    )
    assert not ground_beyond, "the ground floor imports above itself:\n" + "\n".join(ground_beyond)
