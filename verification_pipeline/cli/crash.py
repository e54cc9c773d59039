"""An unexpected exception at the command line: one line for the screen, the traceback in a log file.

The log goes under `$VP_HOME/logs`, or the temporary directory when that cannot be written.
Secret values (the environment's tokens, keys and passwords, and the values given to such
options on the command line) are masked in both before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from verification_pipeline.textsafe import for_terminal

_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|JWT|PASSWORD|PRIVATE|SIGNING_KEY|ACCESS_KEY|CREDENTIAL", re.IGNORECASE
)
_MIN_SECRET_LEN = 6  # shorter values would mask ordinary words


def report_crash(exc: BaseException, args: list[str]) -> str:
    """Write the traceback to a log file; the one line to print, naming the exception and the file."""
    secrets = _secret_values(args)
    text = _mask(
        "".join(traceback.format_exception(exc))
        + f"\ncommand: verification-pipeline {' '.join(_masked_args(args))}\n",
        secrets,
    )
    where = _write_log(text)
    text_of = _text(exc)
    message = _mask(text_of, secrets).splitlines()[0] if text_of.strip() else ""
    # the message cut here, so that the line's end (where the details are) is never cut when shown
    return f"internal error: {type(exc).__name__}: {for_terminal(message, 500)}; details in {where}"


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception whose own __str__ fails must still be reported
        return ""


def _write_log(text: str) -> str:
    from verification_pipeline.paths import vp_home

    name = f"internal-error-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    # a file name that is not UTF-8 (`k6_\xff.json`) is in the traceback as `\udcff`: bytes, escaped
    from verification_pipeline.textsafe import escaped

    data = escaped(text).encode("utf-8")
    for folder in _log_folders(vp_home):
        path = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            return str(path)
        except OSError:
            path.unlink(missing_ok=True)  # no empty log left behind
            continue
    return "nowhere (no writable log folder)"


def _log_folders(vp_home: Callable[[], Path]) -> list[Path]:
    folders = []
    with contextlib.suppress(Exception):  # a broken VP_HOME must not hide the original error
        folders.append(vp_home() / "logs")
    folders.append(Path(tempfile.gettempdir()) / "verification-pipeline-logs")
    return folders


def _secret_values(args: list[str]) -> list[str]:
    values = [value for name, value in os.environ.items() if _SECRET_NAME.search(name)]
    for index, arg in enumerate(args):
        option, equals, value = arg.partition("=")
        if option.startswith("--") and _SECRET_NAME.search(option):
            values.append(value if equals else (args[index + 1] if index + 1 < len(args) else ""))
    return sorted({v for v in values if len(v) >= _MIN_SECRET_LEN}, key=len, reverse=True)


def _masked_args(args: list[str]) -> list[str]:
    out = []
    for index, arg in enumerate(args):
        previous = args[index - 1] if index else ""
        option, equals, _ = arg.partition("=")
        if equals and option.startswith("--") and _SECRET_NAME.search(option):
            out.append(f"{option}=***")
        elif previous.startswith("--") and "=" not in previous and _SECRET_NAME.search(previous):
            out.append("***")
        else:
            out.append(arg)
    return out


def _mask(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, "***")
    return text
