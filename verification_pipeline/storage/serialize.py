"""One encoding for every stored value, shared by the IO manager and the content digests.

Digests are taken over exactly the bytes that are stored, so a data version in the Dagster
UI, the sha256 in metadata and the object in S3 all name the same thing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel, ValidationError

from verification_pipeline.errors import FormatError
from verification_pipeline.storage.s3 import sha256_hex


@dataclass(frozen=True)
class Encoded:
    data: bytes
    extension: str
    content_type: str
    rows: int | None

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)


def encode(value: object) -> Encoded:
    if isinstance(value, BaseModel):  # a typed record: stored as the JSON of its fields
        value = value.model_dump(mode="json")
    if isinstance(value, pl.DataFrame):
        buf = io.BytesIO()
        value.write_parquet(buf, compression="zstd", statistics=True)
        return Encoded(buf.getvalue(), "parquet", "application/vnd.apache.parquet", value.height)
    if isinstance(value, dict | list):
        data = json.dumps(value, indent=2, sort_keys=True, default=str).encode()
        return Encoded(data, "json", "application/json", len(value) if isinstance(value, list) else None)
    if isinstance(value, bytes):
        return Encoded(value, "bin", "application/octet-stream", None)
    raise TypeError(f"cannot store a {type(value).__name__}: return a polars DataFrame, a dict/list or bytes")


def decode(data: bytes, extension: str, source: str, as_type: type | None = None) -> object:
    """The stored value; JSON becomes `as_type` when that is a typed record (validated, field named on error)."""
    try:
        if extension == "parquet":
            return pl.read_parquet(io.BytesIO(data))
        if extension == "json":
            if isinstance(as_type, type) and issubclass(as_type, BaseModel):
                return as_type.model_validate_json(data)
            return json.loads(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise FormatError(
            f"stored value is not a {as_type.__name__ if as_type else 'record'}: {first['msg']}",
            source=source,
            field=where,
        ) from None
    except (json.JSONDecodeError, pl.exceptions.PolarsError, OSError) as exc:
        raise FormatError(f"cannot decode stored {extension}: {exc}", source=source) from None
    if extension == "bin":
        return data
    raise FormatError(f"unknown stored extension .{extension}", source=source)


EXTENSIONS = ("parquet", "json", "bin")
