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


class PipelineError(Exception):
    """Base class: an expected failure with a message a person can act on."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


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
        where = source or ""
        if line is not None:
            where += f":{line}" if where else f"line {line}"
        if field:
            where += f" [{field}]" if where else f"[{field}]"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class FormatError(InputError):
    """A file that is not in a format we read (unknown scanner output, corrupt archive, bad JSON)."""


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
