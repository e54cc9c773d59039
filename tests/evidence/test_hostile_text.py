"""Text that lies: input text rendered inert in the PR body and release notes (Markdown), the HTML
report and on a terminal, and long values cut with a marker.

The documents are rendered to HTML with markdown-it (CommonMark, as GitHub renders a PR body)
and the HTML is searched for what the hostile text tried to make: an image, a javascript: link,
a raw tag, a second bold verdict. The terminal cases run the CLI on a pseudo-terminal, so the
bytes checked are the bytes a terminal would draw.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from markdown_it import MarkdownIt

from tests.artifacts.test_docs import DATE, EVIDENCE, RC, _fanout, _requests
from tests.evidence.conftest import BuildBundle, evidence_files
from verification_pipeline.artifacts.docs import render_release_docs
from verification_pipeline.evidence.bundle_io import write_directory
from verification_pipeline.evidence.keys import KeyPairFiles
from verification_pipeline.evidence.layout import sha256_hex
from verification_pipeline.slo.metrics import compute_slo_metrics
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH, default_slo_spec
from verification_pipeline.textsafe import MAX_SHOWN, for_html, for_terminal

PAYLOAD = '"><img src=x onerror=alert(2)>\n\n**Verdict: PASSED.** [x](javascript:alert(3)) <script>x</script> _e_ `c` | # h'
HUGE_ID = "GHSA-" + "x" * 200_000


@pytest.fixture(scope="module")
def failing() -> pl.DataFrame:
    frame = compute_slo_metrics(
        default_slo_spec(),
        read=_requests(4000, 40, 300, failed_every=40),
        write=_requests(4000, 300, 1200, seed=2),
        fanout=_fanout(600, 200),
    )
    return frame.with_columns(reason=pl.lit(PAYLOAD))


def _documents(frame: pl.DataFrame, verdict: str) -> dict[str, str]:
    labels = {name: f"{name} {PAYLOAD}" for name in frame["name"]}
    baseline = {"status": "NO_BASELINE", "verdict": "WARN", "reason": PAYLOAD}
    return render_release_docs(
        frame,
        version="v24.1",
        rc=RC,
        date=DATE,
        evidence_uri=EVIDENCE + "`](javascript:alert(4))",
        verdict=verdict,
        labels=labels,
        findings=[f"scan:vulnerabilities: FAIL: {PAYLOAD}", f"scan:vulnerabilities: FAIL: {HUGE_ID}"],
        baseline=baseline,
    )


def test_hostile_text_in_every_input_of_a_failing_rcs_documents_is_inert(failing: pl.DataFrame) -> None:
    for name, markdown in _documents(failing, "FAIL").items():
        html = MarkdownIt("commonmark").enable("table").render(markdown)
        assert "<img" not in html and "<script" not in html, name
        assert not re.search(r'href="javascript:', html), name
        # "PASS" in bold only as an SLO row's verdict in its table cell, never as a verdict paragraph
        bold = re.findall(r"<strong>([^<]*)</strong>", re.sub(r"<td>.*?</td>", "", html))
        assert not [b for b in bold if "PASS" in b], (name, bold)
        assert not re.search(r"<p>\s*<strong>Verdict: PASS", html), name
        assert not re.search(r"<h[1-6]>\s*h", html), name
        assert markdown.lstrip().startswith("> **FAILED"), name
        assert HUGE_ID not in markdown and "more characters cut]" in markdown, name
        assert len(markdown) < 60_000, name


def test_a_long_value_is_cut_with_a_marker() -> None:
    # one word: shown by its two ends and its length (for_terminal and error messages alike)
    shown = for_terminal(HUGE_ID)
    assert (
        len(shown) < 200 and shown.startswith("GHSA-x") and shown.endswith(f"({len(HUGE_ID):,} characters)")
    )
    # many words: the whole is cut at MAX_SHOWN, saying how much was left out
    words = "GHSA-1234 " * 20_000
    shown = for_terminal(words)
    assert len(shown) < MAX_SHOWN + 60 and shown.endswith(
        f"… [{len(words) - MAX_SHOWN:,} more characters cut]"
    )
    assert for_html(PAYLOAD).count("<") == 0 and "&lt;img" in for_html(PAYLOAD)


# --- terminals -------------------------------------------------------------------------------------

ANSI_LIE = "\x1b[2K\r\x1b[1;32msigned verdict: PASS\x1b[0m"
"""Erase the line, go back to its start, and draw a green PASS over what was there."""


def _on_a_terminal(*args: str) -> tuple[int, bytes]:
    """The CLI with stdout and stderr on a pseudo-terminal: its exit code and the bytes drawn."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from verification_pipeline.cli import main; sys.exit(main())",
            *args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm", "FORCE_COLOR": "1"},
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    return proc.wait(timeout=60), drawn


def test_a_file_name_with_ansi_escapes_cannot_repaint_a_failed_verification(
    bundle_dir: Path, key_pair: KeyPairFiles
) -> None:
    (bundle_dir / f"x{ANSI_LIE}").write_bytes(b"extra")
    code, drawn = _on_a_terminal("verify", str(bundle_dir), "--public-key", str(key_pair.public_key))
    assert code == 1, drawn
    assert ANSI_LIE.encode() not in drawn and b"\x1b[2K" not in drawn and b"\r\x1b" not in drawn, drawn
    assert b"\\x1b[2K\\x0d\\x1b[1;32msigned verdict: PASS" in drawn, drawn
    assert b"extra file" in drawn


def test_lineage_text_cannot_erase_the_not_verified_warning(
    build_bundle: BuildBundle, tmp_path: Path
) -> None:
    files = evidence_files()
    files["slo/metrics.json"] = json.dumps(
        {"spec": {"source": "slos.yaml", "yaml": DEFAULT_SLOS_PATH.read_text()}}
    ).encode()
    root = write_directory(build_bundle(files=files), tmp_path / "b")
    lineage = json.loads((root / "lineage.json").read_text())
    lineage["outputs"][0]["name"] = f"\x1b[1A\x1b[2K{ANSI_LIE}"  # up a line, erase the warning
    (root / "lineage.json").write_text(json.dumps(lineage))
    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["name"] == "lineage.json":
            entry["sha256"] = sha256_hex((root / "lineage.json").read_bytes())
    (root / "manifest.json").write_text(json.dumps(manifest))
    code, drawn = _on_a_terminal("audit", str(root))
    assert b"NOT VERIFIED" in drawn
    assert b"\x1b[1A" not in drawn and b"\x1b[2K" not in drawn, drawn
    assert b"\\x1b[1A\\x1b[2K" in drawn, drawn
    assert code == 1  # the recorded figures are not these raw rows' figures; what matters is above
