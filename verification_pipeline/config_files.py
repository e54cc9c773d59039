"""YAML configuration files (slos.yaml, metric names, narratives, vulnerability policies), read one way.

A syntax error names the file and line; a schema error names the file and the field
(`slos[2].threshold`), so every configuration file fails the same readable way. PyYAML also
fails outside YAMLError on some input (deep nesting: RecursionError; an integer past CPython's
digit limit or an impossible date: ValueError), and decodes a lone surrogate escape into a str
nothing can encode; those are the file's fault too.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any, TypeVar

import pydantic
import yaml

from verification_pipeline.errors import ConfigError
from verification_pipeline.jsonio import overlong_integer_line, refuse_lone_surrogates

Model = TypeVar("Model", bound=pydantic.BaseModel)


def load_yaml(data: str | bytes, *, source: str) -> Any:
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            source=source,
            line=mark.line + 1 if mark else None,
        ) from None
    except RecursionError:
        raise ConfigError("not a configuration file: nested too deeply to read", source=source) from None
    except ValueError as exc:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        line = overlong_integer_line(text)
        if line is not None:
            raise ConfigError(
                f"holds an integer of more than {sys.get_int_max_str_digits()} digits; no setting is that long",
                source=source,
                line=line,
            ) from None
        raise ConfigError(f"holds a value that cannot be read: {exc}", source=source) from None
    # A "\ud800" escape decodes to a str no file, log or report can encode.
    refuse_lone_surrogates(document, partial(ConfigError, source=source))
    return document


def field_path(location: tuple) -> str:
    """Pydantic's error location as people write it: `slos[2].threshold`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validate(model: type[Model], document: Any, *, source: str, hint: str | None = None) -> Model:
    """The first schema error, as a ConfigError naming the field; the count of the rest as a hint."""
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        what = {"missing": "required field is missing", "extra_forbidden": "unknown key"}.get(
            first["type"], first["msg"].removeprefix("Value error, ")
        )
        more = f"{exc.error_count()} problem(s) in all" if exc.error_count() > 1 else None
        raise ConfigError(
            what, source=source, field=field_path(first["loc"]) or None, hint=hint or more
        ) from None
