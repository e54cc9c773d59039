"""`verification-pipeline`: one root command; each area adds its sub-commands.

This is the one place where our errors become exit codes: bad input 2, a failed gate or
verification 1; the message is printed without a traceback, since it is expected.
"""

from __future__ import annotations

import sys

import click
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
    from verification_pipeline.cli import stack

    app.add_typer(stack.app, name="stack")
    app.command("demo")(stack.demo)


_mount()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except PipelineError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
