"""`keygen`, `verify` and `audit`: signing keys, offline bundle verification, recomputation.

Exit codes come from the root: 0 verified / matches, 1 does not verify / differs, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from verification_pipeline.errors import InputError, VerificationFailed
from verification_pipeline.evidence.layout import ARCHIVE_NAME, MANIFEST, SLO_BASELINE, SLO_METRICS

app = typer.Typer(help="Evidence bundles: signing keys, offline verification, audit.", no_args_is_help=True)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Directory for evidence-signing.key (0600) and .pub.")],
) -> None:
    """Create an Ed25519 key pair for signing evidence bundles."""
    from verification_pipeline.evidence.keys import generate_key_pair

    files = generate_key_pair(out)
    typer.echo(f"private key: {files.private_key}  (mode 0600; keep it in a secret store, never in git)")
    typer.echo(f"public key:  {files.public_key}  (give this to auditors)")
    typer.echo(f"fingerprint: {files.fingerprint}")


@app.command()
def verify(
    bundle: Annotated[
        str,
        typer.Argument(
            help=f"Bundle directory, {ARCHIVE_NAME}, or s3://bucket/.../evidence/<version>/ (VP_S3_* credentials)."
        ),
    ],
    public_key: Annotated[Path, typer.Option("--public-key", help="Trusted Ed25519 public key (PEM).")],
    rc: Annotated[
        str | None, typer.Option("--rc", help="Fail unless the bundle was signed for this RC tag.")
    ] = None,
    require_pass: Annotated[
        bool,
        typer.Option(
            "--require-pass", help="Also exit 1 unless the signed verdict is PASS (for release gates)."
        ),
    ] = False,
) -> None:
    """Check every signature, the RC, every file's digest, and that no file is missing or extra.

    Plain `verify` is an integrity check: a signed FAIL verifies. It prints the signed verdict first.
    """
    from verification_pipeline.evidence.bundle_io import root_version_of
    from verification_pipeline.evidence.keys import load_public_key_file
    from verification_pipeline.evidence.layout import ATTESTATIONS
    from verification_pipeline.evidence.verify import verify_files, verify_path
    from verification_pipeline.verdict import Verdict

    key = load_public_key_file(public_key)
    if bundle.startswith("s3://"):
        from verification_pipeline.storage.bundles import read_bundle_uri
        from verification_pipeline.storage.s3 import S3Settings

        report = verify_files(
            read_bundle_uri(bundle, S3Settings.from_env()),
            key,
            expected_rc=rc,
            source=bundle,
            root_version=root_version_of(bundle),
        )
    else:
        report = verify_path(_bundle_path(bundle), key, expected_rc=rc)
    first, *rest = report.summary_lines()
    typer.secho(
        first, fg=typer.colors.GREEN if report.verdict == Verdict.PASS else typer.colors.RED, bold=True
    )
    for line in rest:
        typer.secho(line, fg=typer.colors.YELLOW if line.lstrip().startswith("WARNING") else None)
    if require_pass and report.verdict != Verdict.PASS:
        raise VerificationFailed(
            f"{ATTESTATIONS} [verdict]: the bundle verifies, but its signed verdict is {report.verdict}, not PASS",
            hint="--require-pass accepts only a signed PASS",
        )


@app.command()
def audit(
    bundle: Annotated[str, typer.Argument(help=f"Bundle directory or {ARCHIVE_NAME}.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Trusted Ed25519 public key (PEM): verify the signatures before auditing. "
            f"Without it the files are checked only against {MANIFEST}, which proves nothing.",
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help=f"The baseline RC's bundle (directory or .tar.gz): recompute {SLO_BASELINE} too.",
        ),
    ] = None,
) -> None:
    """Recompute slo/metrics.json (and slo/baseline.json with --baseline) from raw data, compare, print the lineage."""
    from verification_pipeline.audit.recompute import audit_path, lineage_lines
    from verification_pipeline.evidence.keys import load_public_key_file

    key = load_public_key_file(public_key) if public_key is not None else None
    report = audit_path(
        _bundle_path(bundle),
        public_key=key,
        baseline=_bundle_path(baseline) if baseline is not None else None,
    )
    if report.verification is None:
        typer.secho(
            "WARNING: NOT VERIFIED: no --public-key given, so these files are checked only against "
            f"{MANIFEST}, which anyone can rewrite; audit with --public-key to rely on the result",
            err=True,
            fg=typer.colors.YELLOW,
            bold=True,
        )
    else:
        typer.echo(
            f"verified: signed by {report.verification.key_fingerprint}, "
            f"signed verdict {report.verification.verdict}"
        )
    for line in lineage_lines(report.lineage):
        typer.echo(line)
    rows = ", ".join(f"{name}: {count} rows" for name, count in report.raw_rows.items())
    typer.echo(f"recomputed {SLO_METRICS} from raw measurements ({rows})")
    for difference in report.differences:
        typer.echo(
            f"  {difference.field}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}"
        )
    if report.baseline_differences is None:
        typer.echo(f"{SLO_BASELINE} not recomputed: pass --baseline with the baseline RC's bundle")
    else:
        typer.echo(f"recomputed {SLO_BASELINE} from both bundles' raw measurements ({baseline})")
        for difference in report.baseline_differences:
            typer.echo(
                f"  {difference.field}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}"
            )
    for name, differences in (
        (SLO_METRICS, report.differences),
        (SLO_BASELINE, report.baseline_differences or ()),
    ):
        if differences:
            raise VerificationFailed(
                f"{name} [{differences[0].field}]: {len(differences)} figure(s) differ from the recomputation",
                hint="the recorded figures do not follow from the raw measurements",
            )
    typer.echo("audit: every recorded figure matches the recomputation")


def _bundle_path(bundle: str) -> Path:
    """A bundle named on the command line: not empty, a directory or a regular archive within the read cap."""
    from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS
    from verification_pipeline.fileio import check_size, is_regular_file, require_path

    path = require_path(bundle, what="the bundle")
    if path.exists() and not path.is_dir():
        if not is_regular_file(path):
            raise InputError(
                "is not a bundle directory or archive file (a device, FIFO or socket)", source=bundle
            )
        check_size(path, limit=DEFAULT_LIMITS.max_total_bytes, what="the bundle archive")
    return path
