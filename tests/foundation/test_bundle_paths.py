"""Every bundle path is spelled once, in the layout table (`evidence/layout.py`); the rest of the
package looks it up. A path typed again drifts the day the table changes (a renamed file, a new
directory) and the bundle no longer holds what its readers look for.

The check reads the package's string literals (f-strings whole, so `f"raw/{role}.parquet"` is
seen as written), leaving out docstrings: prose may name a file.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from verification_pipeline.evidence.layout import ARCHIVE_NAME, BUNDLE_FILES, GENERATED_FILES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "verification_pipeline"
LAYOUT = PACKAGE / "evidence" / "layout.py"

_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def _directories() -> set[str]:
    return {entry.path.rsplit("/", 1)[0] for entry in BUNDLE_FILES if "/" in entry.path}


def _spelled(literal: str) -> list[str]:
    """The bundle paths (or their templates) a string literal spells, with `{...}` standing for anything."""
    body = _PLACEHOLDER.sub("{}", literal)
    found = [name for name in (ARCHIVE_NAME, *GENERATED_FILES) if name in body]
    directories = "|".join(re.escape(d) for d in sorted(_directories(), key=len, reverse=True))
    found += re.findall(
        rf"(?<![\w/.-])(?:{directories})/[\w{{}}.*-]+\.(?:json|jsonl|parquet|yaml|md|html)", body
    )
    return found


def _docstring_starts(tree: ast.AST) -> set[tuple[int, int]]:
    """Where every bare string statement starts: docstrings, and the attribute notes under constants."""
    return {
        (node.lineno, node.col_offset)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    prose = _docstring_starts(ast.parse(source))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.start not in prose:
            yield token.start[0], token.string


def test_the_check_sees_a_path_however_it_is_written():
    assert _spelled('"slo/metrics.json"') == ["slo/metrics.json"]
    assert _spelled('f"raw/{role}.parquet"') == ["raw/{}.parquet"]
    assert _spelled('"the bundle has no slo/baseline.json to audit"') == ["slo/baseline.json"]
    assert _spelled("'ops/alerts/slo-burn-rate.yaml'") == ["ops/alerts/slo-burn-rate.yaml"]
    assert _spelled('f"release/PR_BODY_{version}.md"') == ["release/PR_BODY_{}.md"]
    assert _spelled('"s3://b/p/bundle.tar.gz"') == [ARCHIVE_NAME]
    # not a bundle path: another directory, a file name without one, a longer path that merely contains one
    assert _spelled('"config/slos.yaml"') == []
    assert _spelled('"sbom.json"') == []
    assert _spelled('"fixtures/raw/read.parquet"') == []


def test_no_bundle_path_is_spelled_outside_the_layout_table():
    spelled = [
        f"{path.relative_to(ROOT)}:{line}: {literal} ({', '.join(found)})"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != LAYOUT
        for line, literal in _literals(path)
        if (found := _spelled(literal))
    ]
    assert not spelled, (
        "bundle paths spelled outside evidence/layout.py (import its names instead):\n" + "\n".join(spelled)
    )
