"""`lineage RC` and `promote RC`: what produced an RC's figures, and its release tag on a verified PASS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from verification_pipeline.errors import ConfigError
from verification_pipeline.paths import ensure_dagster_home

if TYPE_CHECKING:
    from dagster import DagsterInstance


@contextmanager
def _instance() -> Iterator[DagsterInstance]:
    """The Dagster instance, or exit 2 naming what is wrong with its home, config or database."""
    import sqlite3

    import dagster as dg
    import sqlalchemy.exc
    import yaml

    home = ensure_dagster_home()
    config = home / "dagster.yaml"
    try:
        instance = dg.DagsterInstance.get()
    except UnicodeDecodeError:
        raise ConfigError(
            "the Dagster instance cannot be loaded: dagster.yaml is not UTF-8 text",
            source=str(config),
            hint="fix dagster.yaml (or unset DAGSTER_HOME to use the embedded instance)",
        ) from None
    except (yaml.YAMLError, dg.DagsterInvalidConfigError, dg.DagsterInvariantViolationError) as exc:
        raise ConfigError(
            f"the Dagster instance cannot be loaded: {_first_line(exc)}",
            source=str(config),
            hint="fix dagster.yaml (or unset DAGSTER_HOME to use the embedded instance)",
        ) from None
    except (sqlite3.DatabaseError, sqlalchemy.exc.SQLAlchemyError) as exc:
        raise ConfigError(
            f"the Dagster instance's storage cannot be read: {_first_line(exc)}", source=str(home)
        ) from None
    with instance:
        try:
            yield instance
        except (sqlite3.DatabaseError, sqlalchemy.exc.SQLAlchemyError) as exc:
            raise ConfigError(
                f"the Dagster instance's storage cannot be read: {_first_line(exc)}",
                source=str(home),
                hint="a corrupt or foreign SQLite file? move DAGSTER_HOME's *.db away to start afresh",
            ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def lineage(rc: Annotated[str, typer.Argument(help="Release-candidate tag, e.g. v24.1.0-rc1.")]) -> None:
    """Raw measurements -> metrics -> bundle for an RC: digests, code versions and the runs that made them."""
    from verification_pipeline.release.tags import parse_rc

    parse_rc(rc)
    with _instance() as instance:
        # the definitions (every asset's imports) load only once the instance is known to open
        from verification_pipeline.definitions import build_definitions
        from verification_pipeline.defs.lineage import lineage as lineage_of

        steps = lineage_of(build_definitions(os.environ), instance, rc)
    from verification_pipeline.textsafe import for_terminal

    typer.echo(for_terminal(f"lineage of {rc} (Dagster instance {os.environ['DAGSTER_HOME']})"))
    for step in steps:  # recorded metadata, shown inert on the terminal
        inputs = f"  <- {', '.join(step.upstream)}" if step.upstream else ""
        verdict = f"  [{step.verdict}]" if step.verdict else ""
        typer.echo(for_terminal(f"{step.asset}{verdict}{inputs}"))
        typer.echo(
            for_terminal(
                f"    run {step.run_id}  code v{step.code_version or '?'}  sha256 {step.sha256 or step.data_version or '-'}"
            )
        )
        if step.uri:
            typer.echo(for_terminal(f"    {step.uri}"))


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
    from verification_pipeline.evidence.bundle_io import archive_sha256, root_version_of
    from verification_pipeline.evidence.keys import load_public_key_file
    from verification_pipeline.evidence.layout import bundle_root
    from verification_pipeline.evidence.verify import VerificationReport, verify_files
    from verification_pipeline.release.promote import promote as create_tag
    from verification_pipeline.release.tags import parse_rc
    from verification_pipeline.storage.bundles import read_bundle_uri
    from verification_pipeline.storage.s3 import S3Settings

    parse_rc(rc)  # refused before the instance is opened, as `lineage` does
    key = load_public_key_file(public_key)
    with _instance() as instance:
        recorded = latest_decision(instance, rc)  # only where the bundle is: nothing here is trusted
    bundle_uri = str(recorded["bundle_uri"])

    def verify_bundle() -> tuple[VerificationReport, str]:
        files = read_bundle_uri(bundle_uri, S3Settings.from_env())
        report = verify_files(
            files, key, expected_rc=rc, source=bundle_uri, root_version=root_version_of(bundle_uri)
        )
        return report, archive_sha256(files, bundle_root(report.release_candidate["version"]))

    tag = create_tag(
        repo,
        rc,
        verify_bundle,
        bundle_uri=bundle_uri,
        recorded_sha256=str(recorded["bundle_sha256"]),
        allow_dev_key=allow_dev_key,
    )
    typer.echo(f"created annotated tag {tag} on {rc}'s commit in {repo}; push it with: git push origin {tag}")
