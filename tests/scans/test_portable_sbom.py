"""A signed SBOM names what was scanned, not where: syft's scan root, the checkout, the Python
installation, the home and temporary directories are replaced by portable names."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from verification_pipeline.paths import project_root
from verification_pipeline.scans.syft_runner import portable_sbom, scanned_source_name

COMMIT = "3f2a9c0d1e4b5a6978877665544332211aabbccd"


def test_machine_paths_in_a_syft_document_are_named_portably(tmp_path: Path) -> None:
    root = tmp_path / "vp-sbom-x" / "staged"
    machine = [str(root), str(project_root()), sys.prefix, str(Path.home()), tempfile.gettempdir()]
    document = {
        "source": {"type": "directory", "metadata": {"path": str(root)}},
        "artifacts": [
            {"name": "pyjwt", "locations": [{"path": "/site-packages/PyJWT.dist-info/METADATA"}]},
            {"name": "x", "locations": [{"path": f"{sys.prefix}/lib/python3.11/site-packages/x/METADATA"}]},
        ],
        "descriptor": {
            "configuration": {"cache-dir": f"{Path.home()}/.cache/syft", "tmp": f"{tempfile.gettempdir()}/t"}
        },
        f"{project_root()}/key": "checkout",
    }
    name = scanned_source_name(str(project_root()), COMMIT, "reference_target")
    text = portable_sbom(json.dumps(document).encode(), scan_root=root, name=name).decode()
    assert [path for path in machine if path in text] == []
    out = json.loads(text)
    assert out["source"]["metadata"]["path"] == f"{project_root().name}@{COMMIT}#reference_target"
    assert (
        out["artifacts"][0]["locations"][0]["path"] == "/site-packages/PyJWT.dist-info/METADATA"
    )  # inside the tree
    assert out["artifacts"][1]["locations"][0]["path"].startswith("$PYTHON_PREFIX/lib/")
    assert out["descriptor"]["configuration"]["cache-dir"] == "~/.cache/syft"


def test_the_scanned_source_is_named_by_the_rcs_repository_and_commit_never_a_machine_path() -> None:
    cases = {
        None: f"verification-pipeline@{COMMIT}#reference_target",  # the checkout's HEAD
        "/srv/git/service/": f"service@{COMMIT}#reference_target",  # a local clone: its name only
        "https://ci:s3cret@git.example.com/org/service.git": (
            f"git+https://git.example.com/org/service.git@{COMMIT}#reference_target"
        ),
        "git@github.com:org/service.git": f"git+ssh://github.com/org/service.git@{COMMIT}#reference_target",
    }
    for repository, expected in cases.items():
        assert scanned_source_name(repository, COMMIT, "reference_target") == expected
