"""`python -m reference_target --jwt-secret-file F [--port P] [fault flags]`.

The same command as `verification-pipeline target serve`; this entry point exists so the stack
launcher and the tests can start the target as a process without loading the whole CLI.
"""

from __future__ import annotations

import sys

import typer

from reference_target.command import serve
from verification_pipeline.errors import PipelineError


def main() -> None:
    try:
        typer.run(serve)
    except PipelineError as error:
        # The same mapping as the CLI root: message without traceback, exit 2 (input) or 1 (gate).
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
