"""`verification-pipeline`: one root command; each area adds its sub-commands.

This is the one place where our errors become exit codes: bad input 2, a failed gate or
verification 1, both printed as one line without a traceback, since they are expected; any
other exception is a bug: exit 3, one line, and the traceback in a log file.

Every message to the user is printed here, one way: `error: <what>` on stderr, the paths and
values in it shown by `errors.shown` (never a 100 KB line, never Python's `\\udcff`). A
command raises a PipelineError (`errors.os_error(exc)` for an OSError on a path the user
gave); an OSError that escapes on a path the user named (an argument, or a VP_* / DAGSTER_HOME
setting) is such a mistake too and exits 2 naming the path, not 3.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import typer
from typer._click import exceptions as click_exceptions

from verification_pipeline.cli.help import install as _plain_help
from verification_pipeline.errors import PipelineError, UsageError, os_error, os_fsdecode
from verification_pipeline.textsafe import for_terminal

PROG = "verification-pipeline"
# Settings in the environment that name paths: an OSError under one is the user's to fix.
_PATH_SETTINGS = ("VP_", "DAGSTER_HOME")

_plain_help()
app = typer.Typer(
    name=PROG,
    help="Verify a release candidate: SLOs under load, security and policy gates, a signed evidence bundle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # plain help and usage errors: rich's renderer costs ~0.2 s of start-up on every --help
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"{PROG} {version(PROG)}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Verify a release candidate: SLOs under load, security and policy gates, a signed evidence bundle."""


def _mount() -> None:
    from verification_pipeline.cli import evidence, fanout, k6, ops, policy, release, run, scan, stack, target

    app.add_typer(stack.app, name="stack")
    app.add_typer(k6.app, name="k6")
    app.add_typer(scan.app, name="scan")
    app.add_typer(fanout.app, name="fanout")
    app.add_typer(ops.app, name="ops")
    app.add_typer(target.app, name="target")
    app.add_typer(policy.app, name="policy")
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
        result = app(args=args, standalone_mode=False, prog_name=PROG)
    except PipelineError as exc:
        say_error(str(exc))
        return exc.exit_code
    except click_exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.format_message(), err=True)
        return exc.exit_code
    except click_exceptions.UsageError as exc:
        say_error(_plain_usage(exc.format_message()))
        if exc.ctx is not None:
            typer.echo(exc.ctx.get_usage().replace("Usage:", "usage:", 1), err=True)
            typer.echo(f"(see '{exc.ctx.command_path} -h')", err=True)
        return exc.exit_code
    except click_exceptions.ClickException as exc:
        say_error(exc.format_message())
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more can be said on stdout, and nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if not _names_user_path(exc, args):
            return _crash(exc, args)
        say_error(str(os_error(exc)))
        return 2
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes exit 3 instead of a traceback
        return _crash(exc, args)
    # standalone_mode=False hands back typer.Exit's code; a command itself returns None
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def say_error(message: str) -> None:
    """The one way an error reaches the user: `error: ...` on stderr, paths escaped and bounded."""
    # an error quotes its input (a member name, a field): shown inert, never as terminal escapes
    typer.secho(f"error: {for_terminal(message)}", err=True, fg=typer.colors.RED)


# Typer checks values with pydantic and passes its wording on; said here as the rest of our messages.
_PYDANTIC_WORDS = (
    (re.compile(r"Input should be greater than or equal to"), "must be at least"),
    (re.compile(r"Input should be less than or equal to"), "must be at most"),
    (re.compile(r"Input should be greater than"), "must be above"),
    (re.compile(r"Input should be less than"), "must be below"),
    (re.compile(r"Input should be a valid integer.*"), "expected a whole number"),
    (re.compile(r"Input should be a valid number.*"), "expected a number"),
    (re.compile(r"Input should be a finite number"), "must be a finite number"),
    (re.compile(r"Input should be"), "must be"),
)


def _plain_usage(message: str) -> str:
    for pattern, words in _PYDANTIC_WORDS:
        message = pattern.sub(words, message)
    return message


def _crash(exc: BaseException, args: list[str]) -> int:
    from verification_pipeline.cli.crash import report_crash

    typer.secho(for_terminal(report_crash(exc, args)), err=True, fg=typer.colors.RED)
    return 3


def _names_user_path(exc: OSError, args: list[str]) -> bool:
    """True when the OSError is about a path the user named, or one inside it."""
    if exc.filename is None or isinstance(exc.filename, int):
        return False
    failed = os_fsdecode(exc.filename)
    given = [arg.partition("=")[2] if arg.startswith("--") else arg for arg in args]
    given += [value for name, value in os.environ.items() if name.startswith(_PATH_SETTINGS)]
    for value in filter(None, given):
        for candidate in {value, str(Path(value).absolute())}:
            if failed == candidate or failed.startswith(candidate.rstrip("/") + "/"):
                return True
    return False


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
