"""What a verified bundle says, for the CLI and for `release_decision`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from verification_pipeline.evidence.statements import COMMIT_FROM_CHECKOUT, COMMIT_FROM_TAG
from verification_pipeline.textsafe import mark_verdict_words

_COMMIT_SOURCE_TEXT = {
    COMMIT_FROM_TAG: "RC's git tag",
    COMMIT_FROM_CHECKOUT: "checkout's HEAD; the RC is not a git tag",
}


@dataclass(frozen=True)
class VerificationReport:
    source: str
    release_candidate: Mapping[str, str]
    """The signed RC: tag, commit (never empty), commitSource, version."""
    run_id: str
    created_at: str
    verdict: str
    result: str
    files: int
    missing_files: tuple[str, ...]
    key_fingerprint: str
    dev_key: bool
    summary: str | None = None
    """The signed verification summary's result (PASSED/FAILED); None for a bundle made before there was one."""
    key_set: tuple[str, ...] = ()
    """The fingerprints (key ids) of the trusted key set, when one was given (`--key-set`)."""
    taken_as_signed: tuple[str, ...] = ()
    """Gates whose verdicts sign no figures to recompute them from (a bundle made before they did)."""

    @property
    def commit(self) -> str:
        return self.release_candidate["commit"]

    @property
    def commit_source_text(self) -> str:
        return _COMMIT_SOURCE_TEXT.get(self.release_candidate.get("commitSource", ""), "?")

    def summary_lines(self) -> list[str]:
        """The signed verdict first (what a reader needs), then where it comes from.

        Every value from the bundle or its location is shown as text; the CLI makes it inert for
        a terminal (`textsafe.for_terminal`) before printing.
        """
        shown = mark_verdict_words  # input text states no verdict: only the first line does
        lines = [
            f"signed verdict: {self.verdict}",
            f"verified: {shown(self.source)}",
            f"  release candidate: {shown(self.release_candidate.get('tag'))} (commit {shown(self.commit)}, from the {self.commit_source_text})",
            f"  run id:            {shown(self.run_id)}",
            f"  created:           {shown(self.created_at)}",
            f"  verdict:           {self.verdict} (test-result {self.result})",
            f"  files:             {self.files} signed subjects",
            f"  signed by:         {self.key_fingerprint}",
            *(
                f"  trusted key {number} of {len(self.key_set)}: {fingerprint}"
                + ("  <- signed this bundle" if fingerprint == self.key_fingerprint else "")
                for number, fingerprint in enumerate(self.key_set, start=1)
            ),
            "  summary (VSA):     "
            + (
                f"{self.summary}, for the RC's commit" if self.summary else "none (a bundle made before VSAs)"
            ),
        ]
        if self.missing_files:
            lines.append(f"  missing evidence:  {', '.join(self.missing_files)}")
        if self.taken_as_signed:
            lines.append(
                f"  not recomputed:    {', '.join(self.taken_as_signed)} (they sign no figures to "
                "recompute from; their verdicts are taken as signed)"
            )
        if self.dev_key:
            lines.append(
                "  WARNING: signed with a DEV key; it proves nothing to anyone who does not hold that key"
            )
        return lines
