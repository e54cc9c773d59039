"""Files named by a user: read with a size cap, written all-or-nothing, never through a symlink.

One reader for every input file (command line, keys, secrets, configuration): a regular file
larger than its cap is refused before it is read; a pipe or device is read up to the cap and
refused past it (so `/dev/zero` is an error, not an endless read), and a FIFO that nobody
writes to is refused after a wait instead of hanging. One writer for every output: a
temporary file in the target's directory, fsync, then `os.replace`, refusing a symlink or a
non-regular file in the target's place, so a failure leaves the old content or nothing.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from verification_pipeline.errors import InputError, os_reason

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
# Caps by what a file holds; each is far above any real file of its kind.
KEY_MAX_BYTES = 64 * KIB  # PEM keys, JWT secrets, admin tokens
CONFIG_MAX_BYTES = 16 * MIB  # slos.yaml, metric names, policies
# SBOMs and scan reports: parsed whole, so also bounded by what decoding them may hold
# (`jsonio.DECODE_BUDGET_BYTES`, which no report over half of it passes); the cap keeps a refused
# report's bytes under that too.
REPORT_MAX_BYTES = 512 * MIB
STREAM_MAX_BYTES = 2 * GIB  # k6 output arriving through a pipe, held in memory
FILE_MAX_BYTES = 256 * GIB  # k6 output files, streamed: a cap against a sparse or runaway file
FIFO_WAIT_S = 10.0  # how long a pipe may stay silent before we give up on its writer
_CHUNK = 1 * MIB


def read_capped(
    path: Path | str,
    *,
    limit: int,
    what: str = "the file",
    wait_s: float = FIFO_WAIT_S,
    error: type[InputError] = InputError,
) -> bytes:
    """The bytes of `path`, or an `error` naming it: missing, a directory, over `limit`, a silent pipe.

    `error` picks the family (ConfigError for a setting's file); every one of them exits 2.
    """
    path = require_path(path, what=what)
    try:
        # O_NONBLOCK: opening a FIFO without a writer would otherwise block here, before any timeout.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason, hint = os_reason(exc)
        raise error(f"cannot read {what}: {reason}", source=str(path), hint=hint) from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise error(f"{what} is a directory, not a file", source=str(path))
    with os.fdopen(fd, "rb", buffering=0) as handle:
        if stat.S_ISREG(info.st_mode):
            if info.st_size > limit:
                raise _too_large(path, what, limit, error)
            os.set_blocking(fd, True)
            return _read_upto(handle, path, what, limit, error)
        if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
            return _read_stream(handle, path, what, limit, wait_s, error)
        if not os.isatty(fd):  # /dev/zero, /dev/null, a disk: no input is read from a device
            raise error(f"{what} is a device, not a file", source=str(path), hint="name a regular file")
        os.set_blocking(fd, True)
        return _read_upto(handle, path, what, limit, error)


def check_size(path: Path, *, limit: int, what: str) -> None:
    """Refuse a regular file over `limit` before it is streamed (the reader checks what it reads)."""
    if path.stat().st_size > limit:
        raise _too_large(path, what, limit)


def is_regular_file(path: Path) -> bool:
    """True for a regular file (or a symlink to one): something that can be read twice and seeked."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def require_path(value: Path | str, *, what: str) -> Path:
    """`value` as a Path; an empty string is refused (as a Path it would mean the current directory)."""
    if isinstance(value, str) and not value.strip():
        raise InputError(f"{what}: an empty path was given", hint="name a file")
    return Path(value)


def refuse_same_file(paths: list[Path], *, what: str = "input") -> None:
    """Refuse one file named twice (same device and inode): its rows would be counted twice."""
    seen: dict[tuple[int, int], Path] = {}
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue  # the reader names a missing file
        if not stat.S_ISREG(info.st_mode):
            continue  # pipes are new streams each time
        key = (info.st_dev, info.st_ino)
        if key in seen:
            raise InputError(
                f"the same {what} file is given twice (also as {seen[key]})",
                source=str(path),
                hint="name each file once",
            )
        seen[key] = path


def check_output_file(path: Path | str, *, what: str) -> Path:
    """Refuse, before any work, an output path that cannot take a regular file written by rename."""
    path = require_path(path, what=what)
    if path.is_symlink():
        raise InputError(
            f"{what} is a symbolic link; outputs are never written through one", source=str(path)
        )
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file (a device, FIFO or socket)"
        raise InputError(f"{what} is {kind}", source=str(path), hint="name a file path")
    check_output_dir(path.parent, what=f"the folder of {what}", create=False)
    return path


def check_output_dir(path: Path | str, *, what: str, create: bool = True) -> Path:
    """A writable directory (created when `create`), not a symlink; refused before any work."""
    path = require_path(path, what=what)
    if path.is_symlink():
        raise InputError(
            f"{what} is a symbolic link; outputs are never written through one", source=str(path)
        )
    if not path.exists():
        if not create:
            raise InputError(f"{what} does not exist", source=str(path), hint="create it first")
        _refuse_non_directory_ancestor(path, what)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {what}: {exc.strerror or exc}", source=str(path)) from None
    if not path.is_dir():
        raise InputError(f"{what} is not a directory", source=str(path))
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{what} is not writable", source=str(path))
    return path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> Path:
    """Write `data` to `path` whole or not at all; a symlink or non-file in its place is refused."""
    atomic_write_many({path: data}, mode=mode)
    return path


def atomic_write_many(
    files: Mapping[Path, bytes],
    *,
    mode: int = 0o644,
    modes: Mapping[Path, int] | None = None,
    exclusive: bool = False,
) -> None:
    """Write several files all or nothing: every temporary file is complete before the first rename.

    `modes` overrides `mode` per file. `exclusive` refuses to replace an existing file (keys are
    never overwritten); its renames undo the ones done when a later one fails.
    """
    modes = modes or {}
    for path in files:
        _refuse_target(path, exclusive)
    temps: dict[Path, Path] = {}
    try:
        for path, data in files.items():
            temps[path] = _write_temp(path, data, modes.get(path, mode))
        done: list[Path] = []
        try:
            for path, temp in temps.items():
                _refuse_target(path, exclusive)
                if exclusive:
                    os.link(temp, path)  # fails if the name was taken meanwhile, unlike os.replace
                    os.unlink(temp)
                else:
                    os.replace(temp, path)
                done.append(path)
        except OSError as exc:
            if exclusive:
                for path in done:
                    path.unlink(missing_ok=True)
            raise InputError(f"cannot write: {exc.strerror or exc}", source=str(path)) from None
    finally:
        for temp in temps.values():
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    for directory in {path.parent for path in files}:
        _fsync_dir(directory)


def _refuse_target(path: Path, exclusive: bool) -> None:
    if path.is_symlink():
        raise InputError("is a symbolic link; outputs are never written through one", source=str(path))
    if path.exists():
        if exclusive:
            raise InputError("already exists; it is never overwritten", source=str(path))
        if not path.is_file():
            raise InputError("is in the way: not a regular file", source=str(path))


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write into its folder: {exc.strerror or exc}", source=str(path)) from None
    temp = Path(name)
    try:
        os.fchmod(fd, mode)  # mkstemp makes it 0600; a private key stays so from the first byte
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror or exc}", source=str(path)) from None
    return temp


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _refuse_non_directory_ancestor(path: Path, what: str) -> None:
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise InputError(f"{what} cannot be created: {parent} is not a directory", source=str(path))
            return


def _read_upto(handle: BinaryIO, path: Path, what: str, limit: int, error: type[InputError]) -> bytes:
    chunks, size = [], 0
    while chunk := handle.read(min(_CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _too_large(path, what, limit, error)
    return b"".join(chunks)


def _read_stream(
    handle: BinaryIO, path: Path, what: str, limit: int, wait_s: float, error: type[InputError]
) -> bytes:
    """A pipe, read as data arrives; silence for `wait_s` (e.g. a FIFO nobody opened) is refused."""
    poller = select.poll()
    poller.register(handle.fileno(), select.POLLIN | select.POLLHUP)
    chunks: list[bytes] = []
    size = 0
    while True:
        if not poller.poll(wait_s * 1000):
            raise error(
                f"{what}: no data arrived for {wait_s:g} s (a FIFO without a writer?)",
                source=str(path),
                hint="start the writer first, or pass a regular file",
            )
        try:
            chunk = handle.read(min(_CHUNK, limit + 1 - size))
        except BlockingIOError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _too_large(path, what, limit, error)


def gzip_problem(exc: BaseException) -> str:
    """What a gzip reader's exception means, in words (not zlib's "Error -3 ... incorrect header check")."""
    if isinstance(exc, EOFError):
        return "the compressed data ends early: the file is truncated"
    text = str(exc)
    if "header" in text or "Not a gzipped file" in text:
        return "the data is not gzip-compressed"
    return "the compressed data is damaged"


def _too_large(path: Path, what: str, limit: int, error: type[InputError] = InputError) -> InputError:
    return error(
        f"{what} is larger than the {_size(limit)} this input may be",
        source=str(path),
        hint="is this the right file?",
    )


def _size(n: int) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= factor:
            return f"{n / factor:g} {unit}"
    return f"{n} bytes"
