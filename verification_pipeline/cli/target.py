"""`verification-pipeline target serve|token`: run the reference target and mint its JWTs."""

from __future__ import annotations

import typer

from reference_target import command

app = typer.Typer(
    help="The reference target: the GraphQL + Socket.IO service the demo and the tests verify.",
    no_args_is_help=True,
)
app.command("serve")(command.serve)
app.command("token")(command.token)
