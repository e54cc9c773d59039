"""`verification-pipeline`: one root command; each area adds its sub-commands.

This is the one place where our errors become exit codes: bad input 2, a failed gate or
verification 1, both printed as one line without a traceback, since they are expected; any
other exception is a bug: exit 3, one line, and the traceback in a log file.
"""

from __future__ import annotations

import sys

import typer

from verification_pipeline.errors import PipelineError, UsageError

app = typer.Typer(
    name="verification-pipeline",
    help="Verify a release candidate: SLOs under load, security and policy gates, a signed evidence bundle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # plain help and usage errors: rich's renderer costs ~0.2 s of start-up on every --help
    rich_markup_mode=None,
)


def _mount() -> None:
    from verification_pipeline.cli import evidence, fanout, k6, ops, release, run, scan, stack, target

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
    app.command("run")(run.run)


_mount()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the exit code says what happened: 0 ok, 1 gate/verification failed, 2 bad input, 3 a bug.

    Typer's standalone mode prints usage errors and exits 2 itself; what escapes it is our
    PipelineError (expected: its own code, one line) or anything else, which is a bug: one line
    that points to a log file holding the traceback, and exit 3, never the 1 of a failed gate.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        _refuse_empty_arguments(args)
        app(args=args, standalone_mode=True)
    except PipelineError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes exit 3 instead of a traceback
        from verification_pipeline.cli.crash import report_crash

        typer.secho(report_crash(exc, args), err=True, fg=typer.colors.RED)
        return 3
    return 0


def _refuse_empty_arguments(args: list[str]) -> None:
    """An empty argument is never meant: as a path it would name the current directory."""
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if arg.strip() and not (arg.startswith("--") and equals and not value.strip()):
            continue
        before = args[index - 1] if index and not equals and args[index - 1].startswith("-") else None
        name = option if equals else before
        raise UsageError(
            f"{name or f'argument {index + 1}'} is empty",
            hint="give a value (a path, a tag, a number), or leave the option out",
        )


if __name__ == "__main__":
    sys.exit(main())
