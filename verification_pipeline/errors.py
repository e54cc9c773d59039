"""Every error the pipeline raises on purpose, in one place.

The plain modules raise these; the Dagster layer lets them fail a step with their message;
the command line maps them to exit codes in one place (`cli/__init__.py`):
``InputError`` and its family -> 2, ``GateFailed`` and ``VerificationFailed`` -> 1.
Lower-level exceptions (OSError, json/yaml errors, botocore errors, httpx errors) are mapped
to one of these at the boundary where they happen, so a user never sees a bare traceback for
an expected failure. Messages never contain secrets (tokens, keys): callers pass the names
of secrets, never their values.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from verification_pipeline.textsafe import cut_middle, escaped


class PipelineError(Exception):
    """Base class: an expected failure with a message a person can act on."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- Showing what a user gave: paths and values inside messages ---


def shown(value: object) -> str:
    """`value` as a message shows it: bytes a file name held that are not UTF-8 as `\\xff` (never
    Python's `\\udcff`), and a very long value cut in its middle with its length said.

    Use it for every path, tag or value a user gave that goes into a message; `InputError`
    applies it to its `source` itself. A whole message is made fit to print by
    `textsafe.for_terminal`, where it is shown.
    """
    return cut_middle(escaped(os_fsdecode(value)))


# --- Bad input: a file, a field or an argument that cannot be used. Exit 2. ---


class InputError(PipelineError):
    """Input that cannot be used. Names the source, and the line or field where known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        self.field = field
        where = shown(source) if source else ""
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        if field:
            where += f" [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class FormatError(InputError):
    """A file that is not in a format we read (unknown scanner output, corrupt archive, bad JSON)."""


def recorded_method(
    recorded: Mapping[str, Any], key: str, *, default: int, latest: int, source: str, field: str = ""
) -> int:
    """The version of the rules a signed document was made with (`key`, e.g. "bounds_method";
    `default` for a document made before it was recorded), refused as a FormatError naming `field`
    (default `key`) when this code does not know it."""
    method = recorded.get(key, default)
    if isinstance(method, bool) or not isinstance(method, int) or not default <= method <= latest:
        raise FormatError(
            f"{method!r} is not a {key.removesuffix('_method')} method this code knows ({default} to {latest})",
            source=source,
            field=field or key,
        )
    return method


class NoDataError(InputError):
    """A well-formed input that holds nothing to measure (no request points, no deliveries)."""


class ConfigError(InputError):
    """A configuration value (slos.yaml, policy, resource setting) that is missing or invalid."""


class UsageError(InputError):
    """A command-line call whose arguments do not fit together."""


# --- Gates and verification: the input was fine, the answer is no. Exit 1. ---


class GateFailed(PipelineError):
    """A measured value breached its gate (SLO, vulnerability policy, delivery ratio)."""

    exit_code = 1


class VerificationFailed(PipelineError):
    """An evidence bundle does not verify: a signature, digest, subject or RC does not match."""

    exit_code = 1


class PromotionRefused(PipelineError):
    """A release tag was not created because the decision or the bundle does not allow it."""

    exit_code = 1


# --- Runtime: something we depend on is not there or failed. Exit 2 (fix and rerun). ---


class StackError(PipelineError):
    """The embedded stack cannot start or stop (port taken, binary missing, store not answering)."""


class StorageError(PipelineError):
    """The object store refused or lost a request, or an object does not match its checksum."""


class ToolError(PipelineError):
    """An external tool (k6, syft, node, git, promtool) is missing or exited abnormally."""


class TargetError(PipelineError):
    """The service under test cannot be reached, is too slow, or refused our credentials."""


class SigningError(PipelineError):
    """The signing key is missing, unreadable or of the wrong type."""


# --- The operating system refused a path the user gave ---

_OS_REASONS = {
    errno.EACCES: (
        "permission denied",
        "check the permissions of it and of its folders, or run as a user who may",
    ),
    errno.EPERM: ("operation not permitted", "check the permissions of it and of its folders"),
    errno.ENAMETOOLONG: ("the path is too long for the file system", "use a shorter path"),
    errno.EISDIR: ("is a directory, where a file is wanted", "name a file"),
    errno.ENOTDIR: ("a part of the path is not a directory", "check the path"),
    errno.ENOENT: ("does not exist", "check the path"),
    errno.ELOOP: ("has too many levels of symbolic links", "name the file itself"),
    errno.EROFS: ("is on a read-only file system", "name a writable place"),
    errno.ENOSPC: ("no space left on the device", "free some space, or name another place"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space, or name another place"),
    errno.ETXTBSY: ("is busy (a running program)", "name another file"),
}


def os_error(exc: OSError, *, source: object | None = None, what: str | None = None) -> InputError:
    """The InputError (exit 2) for an OSError on a path the user gave: its path and a plain reason.

    `source` defaults to the path the OSError names; `what` says what the path is for
    ("the bundle", "--out"). Raise it `from None`: the OSError's wording is Python's, not ours.
    """
    reason, hint = os_reason(exc)
    where = source if source is not None else (exc.filename if exc.filename is not None else None)
    text = os_fsdecode(where) if where is not None else None
    return InputError(f"{what}: {reason}" if what else reason, source=text, hint=hint)


def os_reason(exc: OSError) -> tuple[str, str | None]:
    """Why the OS refused, in words, and what to do: ("permission denied", "check the permissions...")."""
    return _OS_REASONS.get(exc.errno or 0, (exc.strerror or "cannot be used", None))


def os_fsdecode(path: object) -> str:
    """A path as text, whatever the OS gave (bytes, str, a path object, a file descriptor)."""
    if isinstance(path, bytes):
        return path.decode("utf-8", "surrogateescape")
    return str(path)


# --- Validation errors (pydantic's, also typer's) said as our messages are ---

# pydantic's error types, said as a person would; `{input}` and the constraint names come from the error.
_WORDS = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown key",
    "float_type": "expected a number, got {input}",
    "float_parsing": "expected a number, got {input}",
    "int_type": "expected a whole number, got {input}",
    "int_parsing": "expected a whole number, got {input}",
    "int_from_float": "expected a whole number, got {input}",
    "bool_type": "expected true or false, got {input}",
    "bool_parsing": "expected true or false, got {input}",
    "string_type": "expected text, got {input}",
    "dict_type": "expected a mapping (key: value lines), got {input}",
    "model_type": "expected a mapping (key: value lines), got {input}",
    "list_type": "expected a list (- item lines), got {input}",
    "tuple_type": "expected a list (- item lines), got {input}",
    "greater_than": "must be above {gt}, got {input}",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "less_than": "must be below {lt}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
    "finite_number": "must be a finite number, got {input}",
    "literal_error": "must be one of {expected}, got {input}",
    "enum": "must be one of {expected}, got {input}",
    "string_too_long": "is longer than {max_length} characters",
    "string_too_short": "is shorter than {min_length} characters",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "holds more than {max_length} items",
    "string_pattern_mismatch": "{input} is not of the form wanted here ({pattern_words})",
}
_PATTERN_WORDS = {
    "^[a-z][a-z0-9_]*$": "lower-case letters, digits and _, starting with a letter",
}


def in_words(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence without pydantic's wording or Python's reprs."""
    context = dict(error.get("ctx") or {})
    if error["type"] == "string_too_short" and context.get("min_length") == 1:
        return "must not be empty"
    template = _WORDS.get(error["type"])
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    pattern = str(context.get("pattern", ""))
    context["pattern_words"] = _PATTERN_WORDS.get(pattern, f"matching {pattern}")
    return template.format(input=_value(error.get("input")), **{k: str(v) for k, v in context.items()})


def _value(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return shown(value)
    return f"'{shown(value)}'"
