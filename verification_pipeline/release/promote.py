"""Promotion: the seed's release tag (`v24.1.0` for `v24.1.0-rc1`), only on a verified PASS.

The tag is annotated, on the commit the RC tag pointed to when it was verified, and its
message names the evidence bundle and its digest, so the tag itself leads to the evidence.
Pushing the tag stays with the person.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from verification_pipeline.errors import PromotionRefused, ToolError, VerificationFailed
from verification_pipeline.release.git import remote_tags
from verification_pipeline.release.tags import parse_rc
from verification_pipeline.verdict import Verdict


@dataclass(frozen=True)
class Decision:
    rc: str
    verdict: str
    commit: str | None
    bundle_uri: str
    bundle_sha256: str
    run_id: str


def promote(repo: str, decision: Decision, verify_bundle: Callable[[], None]) -> str:
    """Create the release tag and return its name, or raise PromotionRefused saying why."""
    rc = parse_rc(decision.rc)
    if decision.verdict != Verdict.PASS:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its release decision is {decision.verdict}, not PASS"
        )
    try:
        verify_bundle()
    except VerificationFailed as exc:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its evidence bundle does not verify: {exc.message}"
        ) from None
    tags = remote_tags(repo, pattern="v*")
    if rc.release_tag in tags:
        raise PromotionRefused(
            f"tag {rc.release_tag} already exists in {repo} (on {tags[rc.release_tag][:12]})"
        )
    current = tags.get(rc.tag)
    if current is None:
        raise PromotionRefused(f"{rc.tag} is not a tag in {repo}")
    if decision.commit and current != decision.commit:
        raise PromotionRefused(
            f"{rc.tag} now points to {current[:12]}, but {decision.commit[:12]} was verified; verify the RC again"
        )
    message = (
        f"{rc.release_tag}: promoted from {rc.tag}\n\n"
        f"Release decision: PASS (Dagster run {decision.run_id})\n"
        f"Evidence bundle: {decision.bundle_uri}\n"
        f"Bundle sha256: {decision.bundle_sha256}\n"
    )
    proc = subprocess.run(
        ["git", "-C", repo, "tag", "-a", rc.release_tag, current, "-F", "-"],
        check=False,
        input=message,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        raise ToolError(f"git tag {rc.release_tag} failed: {proc.stderr.strip()}")
    return rc.release_tag
