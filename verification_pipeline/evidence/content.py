"""A bundle's files as read, held so that memory does not grow with their size.

A reader (directory, archive, object store) streams each file once into a `SpooledFiles`:
small files stay in memory, larger ones go to an anonymous temporary file (unlinked from the
start, so nothing is extracted anywhere a person could open), and the sha256 is computed on the
way in. Verification then reads digests and sizes, never a large file whole; the few documents
it parses (attestations, manifest, lineage, the SLO figures) are read only below
`MAX_DOCUMENT_BYTES`, and Parquet is read in batches from the stream (`evidence/raw.py`).

Every function here also takes a plain `Mapping[str, bytes]` (tests, the bundle as built), so
the checks do not care where the bytes live.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, BinaryIO

from verification_pipeline.errors import VerificationFailed

MAX_DOCUMENT_BYTES = 16 << 20
"""The largest JSON document of a bundle that is parsed (the README's configuration cap): a
parsed document takes several times its size in memory, so the cap comes before any parse."""
IN_MEMORY_BYTES = 32 << 20
"""Files stay in memory until they add up to this; the rest go to one anonymous spool file
(one descriptor however many files), so memory does not grow with the bundle."""
_CHUNK = 1 << 20

DIGEST_ALGORITHMS = {
    "sha256": "sha256",
    "sha224": "sha224",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha512_224": "sha512_224",
    "sha512_256": "sha512_256",
    "sha3_224": "sha3_224",
    "sha3_256": "sha3_256",
    "sha3_384": "sha3_384",
    "sha3_512": "sha3_512",
    "sha1": "sha1",
    "md5": "md5",
    "blake2b": "blake2b",
    "blake2s": "blake2s",
}
"""in-toto digest-set names that can be recomputed here, to hashlib's names. A subject may carry
several; every one given is checked, and one we cannot compute is refused, not skipped."""


@dataclass(frozen=True)
class _Entry:
    size: int
    sha256: str
    data: bytes | None
    """The bytes, or None when they sit in the spool file at `offset`."""
    offset: int = 0


class SpooledFiles(Mapping[str, bytes]):
    """Bundle-relative name -> file, each streamed in once with its size and sha256.

    `self[name]` reads a file whole: only for documents (see `read_document`).
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._in_memory = 0
        self._spool: BinaryIO | None = None

    def add(self, name: str, stream: IO[bytes], size: int, *, where: str) -> None:
        """Copy exactly `size` bytes of `stream` (never more: it may be hostile), hashing them."""
        digest = hashlib.sha256()
        keep = self._in_memory + size <= IN_MEMORY_BYTES
        target: BinaryIO = io.BytesIO() if keep else self._spool_file()
        offset = target.seek(0, io.SEEK_END)
        remaining = size
        while remaining:
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:
                raise VerificationFailed(f"{where}: ends after {size - remaining} of its {size} bytes")
            digest.update(chunk)
            target.write(chunk)
            remaining -= len(chunk)
        if isinstance(target, io.BytesIO):
            self._in_memory += size
            self._entries[name] = _Entry(size, digest.hexdigest(), target.getvalue())
        else:
            self._entries[name] = _Entry(size, digest.hexdigest(), None, offset)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add(name, io.BytesIO(data), len(data), where=name)

    def _spool_file(self) -> BinaryIO:
        if self._spool is None:
            self._spool = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the files are)
        return self._spool

    def __getitem__(self, name: str) -> bytes:
        entry = self._entries[name]
        return entry.data if entry.data is not None else self.open(name).read()

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def size(self, name: str) -> int:
        return self._entries[name].size

    def sha256(self, name: str) -> str:
        return self._entries[name].sha256

    def open(self, name: str) -> BinaryIO:
        """A seekable stream of the file; any number may be open at once."""
        entry = self._entries[name]
        if entry.data is not None:
            return io.BytesIO(entry.data)
        assert self._spool is not None  # an entry without bytes was spooled
        self._spool.flush()
        return io.BufferedReader(_Section(self._spool.fileno(), entry.offset, entry.size), _CHUNK)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


class _Section(io.RawIOBase):
    """`size` bytes of a file from `offset`, read with pread (no shared file position)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        super().__init__()
        self._fd, self._offset, self._size, self._position = fd, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = max(0, min(len(buffer), self._size - self._position))
        data = os.pread(self._fd, count, self._offset + self._position) if count else b""
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


def file_size(files: Mapping[str, bytes], name: str) -> int:
    return files.size(name) if isinstance(files, SpooledFiles) else len(files[name])


def open_file(files: Mapping[str, bytes], name: str) -> BinaryIO:
    return files.open(name) if isinstance(files, SpooledFiles) else io.BytesIO(files[name])


def file_digest(files: Mapping[str, bytes], name: str, algorithm: str) -> str:
    """The file's digest by an in-toto algorithm name, streamed; KeyError for one not in DIGEST_ALGORITHMS."""
    if algorithm == "sha256" and isinstance(files, SpooledFiles):
        return files.sha256(name)
    digest = hashlib.new(DIGEST_ALGORITHMS[algorithm])
    stream = open_file(files, name)
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def read_document(files: Mapping[str, bytes], name: str, *, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A file that is about to be parsed, refused before it is read when it is over `limit`."""
    size = file_size(files, name)
    if size > limit:
        raise VerificationFailed(
            f"{name}: {size} bytes is over the {limit}-byte limit for a document that is parsed",
            hint="no document this pipeline writes is that large",
        )
    return files[name]
