"""`lineage RC` and `promote RC`: what produced an RC's figures, and its release tag on a verified PASS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from verification_pipeline.paths import ensure_dagster_home


def _instance():
    import dagster as dg

    ensure_dagster_home()
    return dg.DagsterInstance.get()


def lineage(rc: Annotated[str, typer.Argument(help="Release-candidate tag, e.g. v24.1.0-rc1.")]) -> None:
    """Raw measurements -> metrics -> bundle for an RC: digests, code versions and the runs that made them."""
    from verification_pipeline.definitions import defs
    from verification_pipeline.defs.lineage import lineage as lineage_of
    from verification_pipeline.release.tags import parse_rc

    parse_rc(rc)
    with _instance() as instance:
        steps = lineage_of(defs, instance, rc)
    typer.echo(f"lineage of {rc} (Dagster instance {os.environ['DAGSTER_HOME']})")
    for step in steps:
        inputs = f"  <- {', '.join(step.upstream)}" if step.upstream else ""
        verdict = f"  [{step.verdict}]" if step.verdict else ""
        typer.echo(f"{step.asset}{verdict}{inputs}")
        typer.echo(
            f"    run {step.run_id}  code v{step.code_version or '?'}  sha256 {step.sha256 or step.data_version or '-'}"
        )
        if step.uri:
            typer.echo(f"    {step.uri}")


def promote(
    rc: Annotated[str, typer.Argument(help="Release-candidate tag to promote, e.g. v24.1.0-rc1.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="Trusted Ed25519 public key (PEM) of the signer.")
    ],
    repo: Annotated[
        str, typer.Option("--repo", envvar="VP_GIT_REPO", help="Local repository holding the RC tag.")
    ] = ".",
    allow_dev_key: Annotated[
        bool, typer.Option(help="Accept a bundle signed with the embedded DEV key (demos only).")
    ] = False,
) -> None:
    """Create the release tag (v24.1.0 for v24.1.0-rc1) on the RC's commit, only on a signed, verified PASS."""
    from verification_pipeline.defs.lineage import latest_decision
    from verification_pipeline.evidence.bundle_io import root_version_of
    from verification_pipeline.evidence.keys import load_public_key_file
    from verification_pipeline.evidence.verify import VerificationReport, verify_files
    from verification_pipeline.release.promote import promote as create_tag
    from verification_pipeline.storage.bundles import read_bundle_uri
    from verification_pipeline.storage.s3 import S3Settings

    key = load_public_key_file(public_key)
    with _instance() as instance:
        recorded = latest_decision(instance, rc)  # only where the bundle is: nothing here is trusted
    bundle_uri = str(recorded["bundle_uri"])

    def verify_bundle() -> VerificationReport:
        return verify_files(
            read_bundle_uri(bundle_uri, S3Settings.from_env()),
            key,
            expected_rc=rc,
            source=bundle_uri,
            root_version=root_version_of(bundle_uri),
        )

    tag = create_tag(
        repo,
        rc,
        verify_bundle,
        bundle_uri=bundle_uri,
        bundle_sha256=str(recorded["bundle_sha256"]),
        allow_dev_key=allow_dev_key,
    )
    typer.echo(f"created annotated tag {tag} on {rc}'s commit in {repo}; push it with: git push origin {tag}")
