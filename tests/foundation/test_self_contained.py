"""The tests, benchmarks and scripts read nothing outside the checkout, so a fresh clone passes alone.

A user's clone has no `shared/` folder and no seed beside it; whatever the suite needs from
elsewhere is copied into tests/fixtures/ (its README names the origin of each file).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("tests", "benchmarks", "scripts")
TEXT_SUFFIXES = {".py", ".sh", ".js", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".json", ".txt", ""}
# Built from parts so this file does not match itself.
OUTSIDE = [
    re.compile(r"\.\./" + "shared"),
    re.compile(r"""\.parents?(\[\d+\])?\s*/\s*["']""" + "shared"),
    re.compile(r"""["']/""" + "work/"),
]
SHARED_FOLDERS = {"/", "/tmp", "/var/tmp", tempfile.gettempdir()}


def outside_references(root: Path) -> list[str]:
    """`file:line: text` for every line under tests/, benchmarks/ and scripts/ that points outside `root`."""
    patterns = list(OUTSIDE)
    # A path into the folder that holds the checkout names a sibling of it, unless that folder is one
    # every program shares (a clone straight under /tmp would flag every "/tmp/x" in a test).
    if str(root.parent) not in SHARED_FOLDERS:
        patterns.append(re.compile(re.escape(str(root.parent)) + "/"))
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*")):
            if (
                not path.is_file()
                or path.suffix not in TEXT_SUFFIXES
                or "fixtures" in path.relative_to(root).parts
            ):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if any(pattern.search(line) for pattern in patterns):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_no_test_benchmark_or_script_reads_outside_the_checkout():
    assert outside_references(REPO) == []


def test_the_walk_finds_a_shared_folder_beside_the_checkout_and_an_absolute_path(tmp_path):
    checkout = tmp_path / "clone"
    (checkout / "tests").mkdir(parents=True)
    (checkout / "benchmarks").mkdir()
    (checkout / "scripts").mkdir()
    (checkout / "tests" / "test_a.py").write_text('SEED = REPO.parent / "' + 'shared" / "seed"\n')
    (checkout / "benchmarks" / "b.py").write_text(f'SCHEMA = "{tmp_path}/other/schema.json"\n')
    (checkout / "scripts" / "c.sh").write_text("cp ../" + "shared/seed/x.js .\n")
    assert [entry.split(":")[0] for entry in outside_references(checkout)] == [
        "tests/test_a.py",
        "benchmarks/b.py",
        "scripts/c.sh",
    ]


def test_the_seed_clients_and_the_grafana_schema_are_in_the_repository():
    fixtures = REPO / "tests" / "fixtures"
    for name in ("graphql_read.js", "graphql_write.js", "subscription_fanout.js"):
        assert (fixtures / "seed" / "clients" / name).stat().st_size > 0
    assert (fixtures / "grafana" / "dashboard.jsonschema.json").stat().st_size > 0
    readme = (fixtures / "README.md").read_text()
    for name in (
        "graphql_read.js",
        "graphql_write.js",
        "subscription_fanout.js",
        "dashboard.jsonschema.json",
    ):
        assert name in readme
