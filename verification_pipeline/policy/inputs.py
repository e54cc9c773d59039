"""The configuration files conftest reads, parsed the way its parsers hand them to a policy.

YAML (multi-document: a file with more than one document becomes a list, each document judged
on its own, as conftest does), JSON and TOML, chosen by extension. Values become plain JSON
(YAML timestamps as their text, as conftest's YAML-to-JSON parser gives them). Other formats
conftest reads (HCL, Dockerfile, INI, XML, CUE, ...) have no parser here yet: such a file is
refused by name rather than misread.
"""

from __future__ import annotations

import datetime
import json
import math
import tomllib
from typing import Any

import yaml

from verification_pipeline.errors import FormatError
from verification_pipeline.jsonio import decode_json

PARSERS = ("yaml", "json", "toml")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}


def parser_for(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name.rsplit("/", 1)[-1] else ""
    parser = _EXTENSIONS.get(suffix)
    if parser is None:
        raise FormatError(
            f"no parser for {suffix or 'a file without an extension'} files",
            source=name,
            hint=f"policy test reads {', '.join(sorted(_EXTENSIONS))}; give --parser yaml|json|toml to choose one",
        )
    return parser


def _plain(value: Any, source: str) -> Any:
    """The value as JSON has it: dates as text, a NaN refused (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(key): _plain(item, source) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, source) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatError(f"holds {value}, which JSON (and so Rego) cannot represent", source=source)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _as_json_values(documents: list[Any], source: str) -> list[Any]:
    """The documents, converted (`_plain`) only when JSON cannot hold them as they are: the usual
    manifest holds nothing but strings, numbers, booleans, lists and maps, and walking a thousand of
    them in Python costs more than checking them in C."""
    try:
        json.dumps(documents, allow_nan=False)
    except (TypeError, ValueError):
        return [_plain(document, source) for document in documents]
    return documents


def parse_config(data: bytes, source: str, parser: str | None = None) -> Any:
    """One file's configuration: a document, or a list of documents for a multi-document YAML."""
    parser = parser or parser_for(source)
    if parser == "json":
        return decode_json(data, source, expected="a JSON configuration")
    text = data.decode("utf-8", "replace")
    if parser == "toml":
        try:
            return _plain(tomllib.loads(text), source)
        except tomllib.TOMLDecodeError as exc:
            raise FormatError(f"not valid TOML: {exc}", source=source) from None
    try:
        # libyaml's loader: the pure-Python one takes seconds for a thousand manifests
        documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FormatError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            source=source,
            line=mark.line + 1 if mark else None,
        ) from None
    except (RecursionError, ValueError) as exc:
        raise FormatError(f"cannot be read as YAML: {exc}", source=source) from None
    documents = _as_json_values(documents, source)
    if len(documents) == 1:
        return documents[0]
    return documents or None
