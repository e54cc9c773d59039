"""Promotion: the seed's release tag (`v24.1.0` for `v24.1.0-rc1`), only on a signed, verified PASS.

Promotion decides only from what the verified signature covers: the signed verdict must be
PASS, the signed RC must be this RC, and the signed commit (never empty) must be the commit the
RC tag points to now, which is the commit the release tag is put on. Whatever the Dagster
instance recorded only says where the bundle is. The tag is annotated and its message names the
evidence bundle and its digest, so the tag itself leads to the evidence. Pushing the tag stays
with the person.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from verification_pipeline.errors import PromotionRefused, ToolError, VerificationFailed
from verification_pipeline.evidence.verify import VerificationReport
from verification_pipeline.release.git import remote_tags
from verification_pipeline.release.tags import RcTag, parse_rc
from verification_pipeline.verdict import Verdict


def promote(
    repo: str,
    rc_tag: str,
    verify_bundle: Callable[[], tuple[VerificationReport, str]],
    *,
    bundle_uri: str,
    recorded_sha256: str,
    allow_dev_key: bool = False,
) -> str:
    """Create the release tag and return its name, or raise PromotionRefused saying why.

    `verify_bundle` verifies the RC's bundle against the trusted key and returns what it signs
    and the sha256 of that verified bundle's archive; the tag message names that digest, once it
    equals the one recorded for the RC (`recorded_sha256`), never the record's word alone.
    """
    rc = parse_rc(rc_tag)
    try:
        signed, verified_sha256 = verify_bundle()
    except VerificationFailed as exc:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its evidence bundle does not verify: {exc.message}"
        ) from None
    _refuse_unless_signed_pass(rc, signed, verified_sha256, recorded_sha256, allow_dev_key)
    current = _rc_commit(repo, rc, signed)
    message = (
        f"{rc.release_tag}: promoted from {rc.tag}\n\n"
        f"Signed verdict: PASS (run {signed.run_id}, commit {signed.commit})\n"
        f"Evidence bundle: {bundle_uri}\n"
        f"Bundle sha256: {verified_sha256}\n"
        f"Signed by: {signed.key_fingerprint}\n"
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


def _refuse_unless_signed_pass(
    rc: RcTag,
    signed: VerificationReport,
    verified_sha256: str,
    recorded_sha256: str,
    allow_dev_key: bool,
) -> None:
    """PromotionRefused unless the verified bundle is the recorded one and signs a PASS of this RC's commit."""
    if verified_sha256 != recorded_sha256:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: the recorded bundle sha256 {recorded_sha256[:16]}… is not the "
            f"verified bundle's {verified_sha256[:16]}…",
            hint="the record and the stored bundle disagree; verify the RC again",
        )
    if signed.release_candidate["tag"] != rc.tag:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its bundle is signed for {signed.release_candidate['tag']}"
        )
    if signed.verdict != Verdict.PASS:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its signed verdict is {signed.verdict}, not PASS"
        )
    if signed.dev_key and not allow_dev_key:
        raise PromotionRefused(
            f"{rc.tag} is not promotable: its bundle is signed with a DEV key", hint="sign with a real key"
        )
    if not signed.commit:
        raise PromotionRefused(f"{rc.tag} is not promotable: its bundle signs no commit")


def _rc_commit(repo: str, rc: RcTag, signed: VerificationReport) -> str:
    """The commit the RC's tag points to in `repo`, once it is the signed one and not yet released."""
    tags = remote_tags(repo, pattern="v*")
    if rc.release_tag in tags:
        raise PromotionRefused(
            f"tag {rc.release_tag} already exists in {repo} (on {tags[rc.release_tag][:12]})"
        )
    current = tags.get(rc.tag)
    if current is None:
        raise PromotionRefused(f"{rc.tag} is not a tag in {repo}")
    if current != signed.commit:
        raise PromotionRefused(
            f"{rc.tag} points to {current[:12]} in {repo}, but the bundle signs commit {signed.commit[:12]} "
            f"({signed.commit_source_text}); verify the RC again",
        )
    return current
