"""`verification-pipeline`: one root command; each area adds its sub-commands.

This is the one place where our errors become exit codes: bad input 2, a failed gate or
verification 1; the message is printed without a traceback, since it is expected.
"""

from __future__ import annotations

import sys

import typer

from verification_pipeline.errors import PipelineError

app = typer.Typer(
    name="verification-pipeline",
    help="Verify a release candidate: SLOs under load, security and policy gates, a signed evidence bundle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _mount() -> None:
    from verification_pipeline.cli import evidence, fanout, k6, ops, release, scan, stack, target

    app.add_typer(stack.app, name="stack")
    app.add_typer(k6.app, name="k6")
    app.add_typer(scan.app, name="scan")
    app.add_typer(fanout.app, name="fanout")
    app.add_typer(ops.app, name="ops")
    app.add_typer(target.app, name="target")
    for command in ("keygen", "verify", "audit"):
        app.command(command)(getattr(evidence, command))
    app.command("lineage")(release.lineage)
    app.command("promote")(release.promote)
    app.command("demo")(stack.demo)


_mount()


def main(argv: list[str] | None = None) -> int:
    # Typer's own handling (standalone mode) prints usage errors and exits 2; what escapes it
    # is either our PipelineError, mapped here, or a bug, which keeps its traceback.
    try:
        app(args=argv, standalone_mode=True)
    except PipelineError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
