"""Reading k6 output: the file or bytes, gunzipped when it is gzip, as blocks of whole lines."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from verification_pipeline.errors import FormatError
from verification_pipeline.fileio import gzip_problem
from verification_pipeline.loadtest.ingest.stages import StageTimes

BLOCK_BYTES = 8 * 1024 * 1024
# No k6 line (a point, its tags, a CSV row) comes near a block; a longer one is refused before
# it is held whole, so one endless line cannot take the memory a whole file would.
MAX_LINE_BYTES = BLOCK_BYTES
GZIP_MAGIC = b"\x1f\x8b"

Progress = Callable[[int, int | None], None]


def open_source(source: str | Path | bytes, label: str) -> tuple[io.BufferedIOBase, int | None]:
    if isinstance(source, bytes):
        return io.BytesIO(source), len(source)
    path = Path(source)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc.strerror or exc}", source=label) from exc


def decompressed(raw: io.BufferedIOBase) -> io.BufferedIOBase:
    raw.seek(0)
    magic = raw.read(len(GZIP_MAGIC))
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic == GZIP_MAGIC else raw


def read_head(raw: io.BufferedIOBase, label: str) -> bytes:
    """The first bytes of the content (decompressed), to tell the format; rewinds `raw`."""
    head = bytearray(4096)
    read = _read_into(decompressed(raw), memoryview(head), label, 0)
    raw.seek(0)
    return bytes(head[:read])


def _read_into(stream: io.BufferedIOBase, into: memoryview, label: str, lines_before: int) -> int:
    """Fill `into` from the stream; a broken gzip stream becomes a FormatError naming where."""
    try:
        return stream.readinto(into)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise FormatError(
            f"corrupt or truncated gzip data after line {lines_before} ({gzip_problem(exc)})",
            source=label,
            line=lines_before + 1,
            hint="copy the file again, or rerun k6",
        ) from exc


class LineTooLong(Exception):
    """A line runs on past MAX_LINE_BYTES; the reader, which knows its number, says so."""


def line_too_long(label: str, line: int) -> FormatError:
    return FormatError(
        f"a line longer than {MAX_LINE_BYTES >> 20} MiB: not k6 output (k6 writes one short line per point)",
        source=label,
        line=line,
        hint="is this the right file?",
    )


class Block(NamedTuple):
    """Lines `buffer[0:end]`, starting with the newline that ends the line before them.

    `buffer` is reused for the next block: take copies of what must outlive the iteration.
    """

    buffer: bytearray
    end: int
    first_line: int
    lines: int
    complete: bool


def read_blocks(
    stream: io.BufferedIOBase,
    label: str,
    raw: io.BufferedIOBase,
    total: int | None,
    on_progress: Progress | None,
) -> Iterator[Block]:
    """The stream as blocks of whole lines, read alternately into two reused buffers.

    Reusing buffers matters: a fresh block-sized object per block costs more in page faults
    than the scanning does. Two of them let a block still being worked on elsewhere stay intact
    while the next is read: a caller may hold on to one block while it asks for the next, and
    must be done with it before asking for the one after. A last line without its newline
    comes alone with complete=False: k6 ends every line, so it may have been cut.
    """
    # Small inputs get small buffers; a gzip stream's size is unknown, so reads grow to a block.
    read_size = min(BLOCK_BYTES, max(1 << 16, total or BLOCK_BYTES))
    buffers = [bytearray(read_size + (1 << 16)), bytearray(read_size + (1 << 16))]
    buffer = buffers[0]
    buffer[0] = ord("\n")
    start, line = 1, 1
    while True:
        if start > MAX_LINE_BYTES:
            raise line_too_long(label, line)
        if len(buffer) - start < read_size:  # a line longer than a block, or a grown read: make room
            buffer.extend(bytes(start + read_size - len(buffer)))
        read = _read_into(stream, memoryview(buffer)[start : start + read_size], label, line - 1)
        read_size = min(BLOCK_BYTES, 2 * read_size)
        if on_progress:
            on_progress(raw.tell(), total)
        end = start + read
        if not read:
            if end > 1:
                yield Block(buffer, end, line, 1, False)
            return
        cut = buffer.rfind(b"\n", 0, end)
        if cut > 0:
            lines = buffer.count(b"\n", 0, cut)
            yield Block(buffer, cut, line, lines, True)
            line += lines
            following = buffers[1] if buffer is buffers[0] else buffers[0]
            if len(following) < end - cut:
                following.extend(bytes(end - cut - len(following)))
            following[0 : end - cut] = buffer[cut:end]
            buffer, start = following, end - cut
        else:
            start = end


class ReadError(Exception):
    """The stream broke (corrupt gzip); raised once every line before it has been counted."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def line_chunks(
    stream: io.BufferedIOBase,
    raw: io.BufferedIOBase,
    total: int | None,
    on_progress: Progress | None,
    clock: StageTimes,
) -> Iterator[tuple[bytes | memoryview, bool]]:
    """The stream as chunks of whole lines (each ending with its newline), about a block each.

    A last line without its newline comes alone with complete=False: k6 ends every line, so
    it may have been cut.
    """
    # Small inputs get small reads; a gzip stream's size is unknown, so reads grow to a block.
    read_size = min(BLOCK_BYTES, max(1 << 16, total or BLOCK_BYTES))
    carry = b""
    while True:
        try:
            with clock.stage("read"):
                # Read behind the carried partial line, into the chunk's own buffer: the file's
                # bytes are copied once (a `read` then a join of the carry would copy them twice).
                buffer = bytearray(len(carry) + read_size)
                buffer[: len(carry)] = carry
                read = stream.readinto(memoryview(buffer)[len(carry) :])
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise ReadError(exc) from exc
        read_size = min(BLOCK_BYTES, 2 * read_size)
        if on_progress:
            on_progress(raw.tell(), total)
        if not read:
            if carry:
                yield carry, False
            return
        end = len(carry) + read
        cut = buffer.rfind(b"\n", len(carry), end) + 1
        if cut:
            with clock.stage("read"):
                carry = bytes(memoryview(buffer)[cut:end])
                chunk = memoryview(buffer)[:cut]
            del buffer
            yield chunk, True
            del chunk
        else:  # a line longer than a read
            carry = bytes(memoryview(buffer)[:end])
            del buffer
        if len(carry) > MAX_LINE_BYTES:
            raise LineTooLong
