"""YAML configuration files (slos.yaml, metric names, narratives, vulnerability policies), read one way.

A syntax error names the file and line; a schema error names the file, the line and the field
(`slos.yaml:14 [slos[2].threshold]`), in words rather than pydantic's, so every configuration
file fails the same readable way. A key given twice is refused (YAML would keep the last one
silently), and only `true`/`false` are booleans (YAML 1.2): `threshold: yes` or `on` is not
read as 1. PyYAML also
fails outside YAMLError on some input (deep nesting: RecursionError; an integer past CPython's
digit limit or an impossible date: ValueError), and decodes a lone surrogate escape into a str
nothing can encode; those are the file's fault too.
"""

from __future__ import annotations

import re
import sys
from functools import partial
from typing import Any, NamedTuple, TypeVar

import pydantic
import yaml

from verification_pipeline.errors import ConfigError, InputError, in_words, shown
from verification_pipeline.jsonio import overlong_integer_line, refuse_lone_surrogates

Model = TypeVar("Model", bound=pydantic.BaseModel)
E = TypeVar("E", bound=InputError)


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's booleans and no key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                raise ConfigError(
                    f"`{shown(key)}` is given twice (also on line {seen[key]})",
                    source=self.name,
                    line=line,
                    hint="keep one",
                )
            if isinstance(key, str):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# YAML 1.2 also reads `1e3` (no dot) as a number; PyYAML's 1.1 rules read it as text
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
)


class Lines(dict[tuple[Any, ...], int]):
    """The line of each key in a YAML document, by its path (`("slos", 2, "threshold")`)."""

    def of(self, location: tuple[Any, ...]) -> int | None:
        """The line of `location`, or of the nearest enclosing key that has one."""
        for end in range(len(location), 0, -1):
            if location[:end] in self:
                return self[location[:end]]
        return None


class Loaded(NamedTuple):
    document: Any
    lines: Lines


def yaml_error(exc: yaml.YAMLError, kind: type[E], source: str) -> E:
    """PyYAML's error as `kind` (ConfigError, FormatError): what is wrong, naming `source` and the line."""
    mark = getattr(exc, "problem_mark", None)
    return kind(
        f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
        source=source,
        line=mark.line + 1 if mark else None,
    )


def load_yaml(data: str | bytes, *, source: str) -> Any:
    """The document in `data`; a ConfigError naming `source` and the line for anything unreadable."""
    return load_yaml_with_lines(data, source=source).document


def load_yaml_with_lines(data: str | bytes, *, source: str) -> Loaded:
    """The document and the line of each key in it, for errors that say where in the file."""
    try:
        loader = _Loader(data)
        loader.name = source
        try:
            node = loader.get_single_node()
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise yaml_error(exc, ConfigError, source) from None
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
    lines = Lines()
    try:
        # A "\ud800" escape decodes to a str no file, log or report can encode.
        refuse_lone_surrogates(document, partial(ConfigError, source=source))
        if node is not None:
            _key_lines(node, (), lines)
    except RecursionError:  # the walks recurse as deep as the document nests
        raise ConfigError("not a configuration file: nested too deeply to read", source=source) from None
    return Loaded(document, lines)


def _key_lines(node: yaml.Node, path: tuple[Any, ...], lines: Lines) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                lines[(*path, key_node.value)] = key_node.start_mark.line + 1
                _key_lines(value_node, (*path, key_node.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _key_lines(item, (*path, index), lines)


def field_path(location: tuple) -> str:
    """Pydantic's error location as people write it: `slos[2].threshold`."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validate(
    model: type[Model], document: Any, *, source: str, hint: str | None = None, lines: Lines | None = None
) -> Model:
    """The first schema error, as a ConfigError naming the field (and its line, given `lines`);
    the count of the rest as a hint."""
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        more = f"{exc.error_count()} problem(s) in all" if exc.error_count() > 1 else None
        raise ConfigError(
            in_words(first),
            source=source,
            line=lines.of(first["loc"]) if lines else None,
            field=field_path(first["loc"]) or None,
            hint=hint or more,
        ) from None
