"""Reading the files named on the command line, with errors that name them."""

from pathlib import Path

from verification_pipeline.errors import InputError


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from None
