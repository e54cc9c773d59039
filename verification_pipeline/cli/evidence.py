"""`keygen`, `verify` and `audit`: signing keys, offline bundle verification, recomputation.

Exit codes come from the root: 0 verified / matches, 1 does not verify / differs, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from verification_pipeline.errors import VerificationFailed
from verification_pipeline.evidence.audit import audit_path, lineage_lines
from verification_pipeline.evidence.keys import generate_key_pair, load_public_key_file
from verification_pipeline.evidence.verify import verify_files, verify_path

app = typer.Typer(help="Evidence bundles: signing keys, offline verification, audit.", no_args_is_help=True)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for evidence-signing.key (0600) and .pub.")],
) -> None:
    """Create an Ed25519 key pair for signing evidence bundles."""
    files = generate_key_pair(out)
    typer.echo(f"private key: {files.private_key}  (mode 0600; keep it in a secret store, never in git)")
    typer.echo(f"public key:  {files.public_key}  (give this to auditors)")
    typer.echo(f"fingerprint: {files.fingerprint}")


@app.command()
def verify(
    bundle: Annotated[
        str,
        typer.Argument(
            help="Bundle directory, bundle.tar.gz, or s3://bucket/.../evidence/<version>/ (VP_S3_* credentials)."
        ),
    ],
    public_key: Annotated[Path, typer.Option("--public-key", help="Trusted Ed25519 public key (PEM).")],
    rc: Annotated[
        str | None, typer.Option("--rc", help="Fail unless the bundle was signed for this RC tag.")
    ] = None,
) -> None:
    """Check every signature, the RC, every file's digest, and that no file is missing or extra."""
    key = load_public_key_file(public_key)
    if bundle.startswith("s3://"):
        from verification_pipeline.storage.bundles import read_bundle_uri
        from verification_pipeline.storage.s3 import S3Settings

        report = verify_files(
            read_bundle_uri(bundle, S3Settings.from_env()), key, expected_rc=rc, source=bundle
        )
    else:
        report = verify_path(Path(bundle), key, expected_rc=rc)
    for line in report.summary_lines():
        typer.secho(line, fg=typer.colors.YELLOW if line.lstrip().startswith("WARNING") else None)


@app.command()
def audit(
    bundle: Annotated[str, typer.Argument(help="Bundle directory or bundle.tar.gz.")],
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="The baseline RC's bundle (directory or .tar.gz): recompute slo/baseline.json too.",
        ),
    ] = None,
) -> None:
    """Recompute slo/metrics.json (and slo/baseline.json with --baseline) from raw data, compare, print the lineage."""
    report = audit_path(Path(bundle), baseline=baseline)
    for line in lineage_lines(report.lineage):
        typer.echo(line)
    rows = ", ".join(f"{name}: {count} rows" for name, count in report.raw_rows.items())
    typer.echo(f"recomputed slo/metrics.json from raw measurements ({rows})")
    for difference in report.differences:
        typer.echo(
            f"  {difference.field}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}"
        )
    if report.baseline_differences is None:
        typer.echo("slo/baseline.json not recomputed: pass --baseline with the baseline RC's bundle")
    else:
        typer.echo(f"recomputed slo/baseline.json from both bundles' raw measurements ({baseline})")
        for difference in report.baseline_differences:
            typer.echo(
                f"  {difference.field}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}"
            )
    for name, differences in (
        ("slo/metrics.json", report.differences),
        ("slo/baseline.json", report.baseline_differences or ()),
    ):
        if differences:
            raise VerificationFailed(
                f"{name} [{differences[0].field}]: {len(differences)} figure(s) differ from the recomputation",
                hint="the recorded figures do not follow from the raw measurements",
            )
    typer.echo("audit: every recorded figure matches the recomputation")
