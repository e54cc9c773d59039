"""`keygen`, `verify` and `audit`: signing keys, offline bundle verification, recomputation.

Exit codes come from the root: 0 verified / matches, 1 does not verify / differs, 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from verification_pipeline.errors import InputError, UsageError, VerificationFailed
from verification_pipeline.evidence.layout import ARCHIVE_NAME, MANIFEST, SLO_BASELINE, SLO_METRICS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from verification_pipeline.audit.recompute import AuditReport, MetricDifference
    from verification_pipeline.evidence.content import SpooledFiles
    from verification_pipeline.evidence.verify import VerificationReport
    from verification_pipeline.policy.conftest import Engine

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
            help=f"Bundle directory, {ARCHIVE_NAME}, or s3://bucket/.../evidence/VERSION/ (with the VP_S3_* credentials)."
        ),
    ],
    public_key: Annotated[Path, typer.Option("--public-key", help="Trusted Ed25519 public key (PEM).")],
    key_set: Annotated[
        bool,
        typer.Option(
            "--key-set",
            help="The --public-key file is a key set: one or more PEM public keys, each trusted; "
            "the output names every key and the one that signed. Without it the file must hold exactly one key.",
        ),
    ] = False,
    rc: Annotated[
        str | None, typer.Option("--rc", help="Fail unless the bundle was signed for this RC tag.")
    ] = None,
    require_pass: Annotated[
        bool,
        typer.Option(
            "--require-pass", help="Also exit 1 unless the signed verdict is PASS (for release gates)."
        ),
    ] = False,
    policy: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy",
            help="A release policy (Rego v1 .rego file or directory) evaluated on the verified statements "
            "and figures; exit 1 on any denial. Repeatable.",
        ),
    ] = None,
) -> None:
    """Check every signature, the RC, every file's digest, and that no file is missing or extra.

    Plain `verify` is an integrity check: a signed FAIL verifies. It prints the signed verdict first.
    """
    from verification_pipeline.errors import UsageError
    from verification_pipeline.evidence.keys import load_public_keys
    from verification_pipeline.evidence.layout import ATTESTATIONS
    from verification_pipeline.evidence.verify import signer_of, verify_files
    from verification_pipeline.textsafe import for_terminal
    from verification_pipeline.verdict import Verdict

    if require_pass and rc is None:
        # a signed PASS of another RC (rc1's bundle under rc2's name) would pass the gate
        raise UsageError(
            "--require-pass needs --rc TAG: a release gate must say which RC's PASS it accepts",
            hint="add --rc with the release candidate's tag",
        )
    keys = load_public_keys(public_key, key_set=key_set)
    release_policy = None
    if policy:  # compiled before any bundle is read: a policy that cannot run is bad input (exit 2)
        from verification_pipeline.policy.release import load_release_policy

        release_policy = load_release_policy(policy)
    files, root_version = _read_files(bundle)
    report = verify_files(
        files, keys if key_set else keys[0], expected_rc=rc, source=bundle, root_version=root_version
    )
    first, *rest = (for_terminal(line) for line in report.summary_lines())
    typer.secho(
        first, fg=typer.colors.GREEN if report.verdict == Verdict.PASS else typer.colors.RED, bold=True
    )
    for line in rest:
        typer.secho(line, fg=typer.colors.YELLOW if line.lstrip().startswith("WARNING") else None)
    if release_policy is not None:
        key = signer_of(files, keys)  # the key that signed it, verified above
        _judge_release_policy(release_policy, files, key, report, policy or [], bundle)
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
    key_set: Annotated[
        bool,
        typer.Option(
            "--key-set",
            help="The --public-key file is a key set: one or more PEM public keys, each trusted; "
            "the output names every key and the one that signed. Without it the file must hold exactly one key.",
        ),
    ] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help=f"The baseline RC's bundle (directory or .tar.gz): recompute {SLO_BASELINE} too.",
        ),
    ] = None,
) -> None:
    """Recompute slo/metrics.json (and slo/baseline.json with --baseline) from raw data, compare, print the lineage."""
    from verification_pipeline.audit.recompute import audit_path
    from verification_pipeline.evidence.keys import load_public_keys

    if key_set and public_key is None:
        raise UsageError("--key-set needs --public-key FILE holding the key set")
    keys = load_public_keys(public_key, key_set=key_set) if public_key is not None else None
    key = (keys if key_set else keys[0]) if keys is not None else None
    bundle_path = _bundle_path(bundle)
    baseline_path = _bundle_path(baseline) if baseline is not None else None
    if baseline_path is not None and _same_place(bundle_path, baseline_path):
        raise UsageError(
            "--baseline names the audited bundle itself; a bundle compared with itself shows nothing",
            hint="pass the bundle of the RC before it",
        )
    report = audit_path(bundle_path, public_key=key, baseline=baseline_path)
    _print_audit(report, baseline)
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


def _read_files(bundle: str) -> tuple[SpooledFiles, str | None]:
    """The files of a bundle directory, archive or s3:// prefix, and the version its root names."""
    from verification_pipeline.evidence.bundle_io import read_bundle, root_version_of

    if bundle.startswith("s3://"):
        from verification_pipeline.storage.bundles import read_bundle_uri
        from verification_pipeline.storage.s3 import S3Settings

        return read_bundle_uri(bundle, S3Settings.from_env()), root_version_of(bundle)
    read = read_bundle(_bundle_path(bundle))
    return read.files, read.root_version


def _print_audit(report: AuditReport, baseline: str | None) -> None:
    """What was verified, the lineage, and every figure that differs from its recomputation."""
    from verification_pipeline.audit.recompute import lineage_lines
    from verification_pipeline.textsafe import for_terminal, mark_verdict_words

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
            f"signed verdict {for_terminal(report.verification.verdict)}"
        )
        for number, fingerprint in enumerate(report.verification.key_set, start=1):
            typer.echo(f"  trusted key {number} of {len(report.verification.key_set)}: {fingerprint}")
    if report.baseline_verification is not None:
        typer.echo(
            f"baseline verified: {for_terminal(report.baseline_verification.release_candidate.get('tag'))}, "
            f"signed by {report.baseline_verification.key_fingerprint}"
        )
    for line in lineage_lines(report.lineage):
        typer.echo(for_terminal(mark_verdict_words(line)))  # input text: it states no verdict
    rows = ", ".join(f"{for_terminal(name)}: {count} rows" for name, count in report.raw_rows.items())
    typer.echo(f"recomputed {SLO_METRICS} from raw measurements ({rows})")
    for difference in report.differences:
        typer.echo(for_terminal(_difference_line(difference)))
    if report.baseline_differences is None:
        typer.echo(f"{SLO_BASELINE} not recomputed: pass --baseline with the baseline RC's bundle")
    elif baseline is None:  # a concurrent comparison: both sides' rows are in this bundle
        typer.echo(
            f"recomputed {SLO_BASELINE} from this bundle's raw measurements of both sides "
            "(its baseline was measured beside it, concurrent design)"
        )
    else:
        typer.echo(
            f"recomputed {SLO_BASELINE} from both bundles' raw measurements ({for_terminal(baseline)})"
        )
        for difference in report.baseline_differences:
            typer.echo(for_terminal(_difference_line(difference)))


def _judge_release_policy(
    engine: Engine,
    files: Mapping[str, bytes],
    key: Ed25519PublicKey,
    report: VerificationReport,
    paths: list[Path],
    bundle: str,
) -> None:
    """The release policy on what just verified; each denial printed, exit 1 on any."""
    from verification_pipeline.errors import GateFailed
    from verification_pipeline.policy.release import evaluate_release_policy, release_input
    from verification_pipeline.textsafe import for_terminal

    outcome = evaluate_release_policy(engine, release_input(files, key, report), source=bundle)
    named = ", ".join(str(p) for p in paths)
    typer.echo(
        f"release policy {named} (sha256 {outcome.policy_digest[:16]}): "
        f"{len(outcome.denials)} denial(s), {len(outcome.warnings)} warning(s)"
    )
    for line in outcome.denials:
        typer.secho(f"  DENY {for_terminal(line)}", fg=typer.colors.RED)
    for line in outcome.warnings:
        typer.secho(f"  WARN {for_terminal(line)}", fg=typer.colors.YELLOW)
    if outcome.denials:
        raise GateFailed(f"the release policy denies this bundle: {len(outcome.denials)} denial(s)")


def _same_place(first: Path, second: Path) -> bool:
    """The same file or folder (or the bundle root inside the other: `dir` and `dir/evidence/v24.1`)."""
    try:
        one, other = first.resolve(strict=True), second.resolve(strict=True)
    except OSError:
        return False  # the reader names what is missing
    return one == other or one in other.parents or other in one.parents


def _difference_line(difference: MetricDifference) -> str:
    return f"  {difference.field}: recorded {difference.recorded!r}, recomputed {difference.recomputed!r}"


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
