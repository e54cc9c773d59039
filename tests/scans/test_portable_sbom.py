"""A signed SBOM names what was scanned, not where: syft's scan root, the checkout, the Python
installation, the home and temporary directories are replaced by portable names."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from verification_pipeline.paths import project_root
from verification_pipeline.scans.syft_runner import portable_sbom


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
    text = portable_sbom(
        json.dumps(document).encode(), scan_root=root, name="v24.1.0-rc1/reference-target"
    ).decode()
    assert [path for path in machine if path in text] == []
    out = json.loads(text)
    assert out["source"]["metadata"]["path"] == "v24.1.0-rc1/reference-target"
    assert (
        out["artifacts"][0]["locations"][0]["path"] == "/site-packages/PyJWT.dist-info/METADATA"
    )  # inside the tree
    assert out["artifacts"][1]["locations"][0]["path"].startswith("$PYTHON_PREFIX/lib/")
    assert out["descriptor"]["configuration"]["cache-dir"] == "~/.cache/syft"
