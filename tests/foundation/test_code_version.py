"""Code versions come from the code: they change when the code an asset runs changes, and only then."""

import shutil
import subprocess
import sys
from pathlib import Path

from verification_pipeline.code_version import PACKAGE_DIR, code_version


def make_package(root: Path) -> Path:
    """A synthetic package named like ours: an asset module using a plain module using another."""
    package = root / "verification_pipeline"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "defs" / "assets.py").write_text(
        "import json\nfrom verification_pipeline.maths import double\nfrom . import helpers\n"
    )
    (package / "defs" / "helpers.py").write_text("X = 1\n")
    (package / "maths.py").write_text(
        "from verification_pipeline import units\ndef double(x): return 2 * x\n"
    )
    (package / "units.py").write_text("MS = 1\n")
    (package / "unrelated.py").write_text("Y = 1\n")
    return package


def version(package: Path) -> str:
    return code_version("verification_pipeline.defs.assets", root=package)


def test_the_version_changes_when_a_module_the_asset_imports_changes_even_indirectly(tmp_path):
    package = make_package(tmp_path / "a")
    before = version(package)
    changed = tmp_path / "b"
    shutil.copytree(package.parent, changed)
    (changed / "verification_pipeline" / "units.py").write_text("MS = 1000\n")
    assert version(changed / "verification_pipeline") != before


def test_relative_imports_count_too(tmp_path):
    package = make_package(tmp_path / "a")
    changed = tmp_path / "b"
    shutil.copytree(package.parent, changed)
    (changed / "verification_pipeline" / "defs" / "helpers.py").write_text("X = 2\n")
    assert version(changed / "verification_pipeline") != version(package)


def test_a_module_the_asset_does_not_use_leaves_the_version_alone(tmp_path):
    package = make_package(tmp_path / "a")
    changed = tmp_path / "b"
    shutil.copytree(package.parent, changed)
    (changed / "verification_pipeline" / "unrelated.py").write_text("Y = 2\n")
    assert version(changed / "verification_pipeline") == version(package)


def test_the_same_code_gives_the_same_version_in_another_copy_and_another_load(tmp_path):
    package = make_package(tmp_path / "a")
    copy = tmp_path / "b"
    shutil.copytree(package.parent, copy)
    assert version(package) == version(copy / "verification_pipeline")
    module = "verification_pipeline.defs.evidence.assets"
    assert code_version(module) == code_version(module, root=PACKAGE_DIR)


def test_the_code_location_reports_derived_versions_stable_across_two_loads():
    from verification_pipeline.definitions import build_definitions

    def versions() -> dict[str, str]:
        graph = build_definitions({}).resolve_asset_graph()
        return {key.to_user_string(): graph.get(key).code_version for key in graph.get_all_asset_keys()}

    first, second = versions(), versions()
    assert first == second
    probe = "from verification_pipeline.code_version import code_version as v; print(v('verification_pipeline.defs.slo.assets'))"
    fresh = {
        subprocess.run(
            [sys.executable, "-c", probe], check=True, capture_output=True, text=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert fresh == {first["slo_metrics"]}
    assert all(len(v) == 16 and v != "1" for v in first.values())
    # assets of different modules, built from different code, differ
    assert first["evidence_bundle"] != first["release_candidate"]
