"""A bundle on disk: write it as a directory or a reproducible tar.gz, and read either back safely.

Reading treats the input as hostile: an archive member that is absolute, climbs out with
`..`, is a link or a device, repeats a name, or exceeds the size limits fails verification
instead of being extracted, and a tar header is size-checked before it is read. Nothing is
extracted where anyone could open it: each file, once its size was checked against the limits,
is streamed into a `SpooledFiles` (memory up to a fixed budget, then one anonymous spool file)
with its digest computed on the way, so memory stays bounded whatever the bundle holds.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from verification_pipeline.errors import InputError, VerificationFailed, os_error
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.content import SpooledFiles, file_size, open_file
from verification_pipeline.evidence.layout import ARCHIVE_NAME, ATTESTATIONS, check_relative_name
from verification_pipeline.fileio import gzip_problem

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a bundle may make us read, so a hostile archive cannot exhaust memory."""

    max_files: int = 10_000
    max_file_bytes: int = 256 << 20
    max_total_bytes: int = 1 << 30


DEFAULT_LIMITS = ReadLimits()


# --- writing ----------------------------------------------------------------------------------


def write_directory(bundle: EvidenceBundle, out_dir: Path) -> Path:
    """Write the files under `out_dir/evidence/<version>/`; refuses a root that already exists."""
    root = out_dir / bundle.root
    if root.exists():
        raise InputError(
            "a bundle directory is already there; evidence is write-once",
            source=str(root),
            hint="write to a new, empty directory",
        )
    for name, data in bundle.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def archive_bytes(bundle: EvidenceBundle) -> bytes:
    """A tar.gz whose bytes depend only on the bundle: sorted members, fixed times, owners and modes."""
    raw = io.BytesIO()
    _write_archive(bundle.files, bundle.root, raw)
    return raw.getvalue()


def archive_sha256(files: Mapping[str, bytes], root: str) -> str:
    """The sha256 of the archive `archive_bytes` writes for these files, without holding it: the
    digest of a verified bundle's archive, to compare with the one a record claims."""
    sink = _HashingSink()
    _write_archive(files, root, sink)
    return sink.digest.hexdigest()


def _write_archive(files: Mapping[str, bytes], root: str, out: IO[bytes] | io.RawIOBase) -> None:
    mtime = 0  # the gzip header and every member: no wall-clock time leaks into the bytes
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=mtime) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = file_size(files, name)
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, open_file(files, name))


class _HashingSink(io.RawIOBase):
    def __init__(self) -> None:
        super().__init__()
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        return len(data)


def write_archive(bundle: EvidenceBundle, path: Path) -> Path:
    data = archive_bytes(bundle)
    try:
        with path.open("xb") as out:
            out.write(data)
    except FileExistsError:
        raise InputError("already exists; evidence is write-once", source=str(path)) from None
    return path


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFiles:
    """A bundle as read: its files, and the `<version>` of the `evidence/<version>/` they sat under.

    `root_version` is None when the location does not say (a bundle root directory given
    directly); verification compares it with the signed version when it does.
    """

    files: SpooledFiles
    root_version: str | None


def read_bundle(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> BundleFiles:
    """The files of a bundle directory or archive, keyed by bundle-relative name."""
    if path.is_dir():
        return read_directory(path, limits)
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        with _open_regular(path, str(path)) as stream:
            # a zip or plain tar by that name is the wrong file, not a bad bundle (a cut one stays a bad bundle)
            if len(magic := stream.read(2)) == 2 and magic != b"\x1f\x8b":
                raise InputError(f"is not a gzip-compressed tar archive ({ARCHIVE_NAME})", source=str(path))
            stream.seek(0)
            return read_archive(stream, source=str(path), limits=limits)
    if not path.exists():
        raise InputError("does not exist", source=str(path))
    raise InputError("is neither a bundle directory nor a .tar.gz archive", source=str(path))


def read_directory(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> BundleFiles:
    """The bundle root itself, or a directory that holds nothing but `evidence/<version>/`."""
    root, version = _directory_root(path)
    files = SpooledFiles()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=_unreadable):
        for entry in sorted(dirnames + filenames):
            full = Path(dirpath) / entry
            name = full.relative_to(root).as_posix()
            if stat.S_ISDIR(full.lstat().st_mode):
                continue  # os.walk descends into it (never through a link: followlinks=False)
            with _open_regular(full, name) as handle:
                size = os.fstat(handle.fileno()).st_size
                total += size
                _check_limits(name, size, len(files) + 1, total, limits)
                files.add(name, handle, size, where=name)
                if handle.read(1):
                    raise VerificationFailed(f"{name}: changed size while it was read")
    return BundleFiles(files, version)


def _unreadable(exc: OSError) -> None:
    # os.walk skips a folder it cannot list: its files would then read as missing, the wrong cause
    raise os_error(exc, what="a folder of the bundle") from None


def _open_regular(path: Path, name: str) -> BinaryIO:
    """Open once, refusing a link (O_NOFOLLOW), and judge what was opened (fstat), not the name:
    the file cannot be swapped between the check and the read. O_NONBLOCK: a FIFO does not hang."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VerificationFailed(
                f"{name}: is a symbolic link; a bundle holds regular files only"
            ) from None
        raise os_error(exc, source=str(path)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VerificationFailed(f"{name}: is not a regular file (device, FIFO or socket)")
    return os.fdopen(fd, "rb")


def _directory_root(path: Path) -> tuple[Path, str | None]:
    """The directory given is the bundle when it holds the attestations; descend only into a
    directory that holds nothing but `evidence/<version>/`, so no copy can hide beside the files."""
    if (path / ATTESTATIONS).exists():
        return path, None
    entries = list(path.iterdir())
    if len(entries) == 1 and entries[0].name == "evidence" and _is_plain_dir(entries[0]):
        versions = list(entries[0].iterdir())
        if len(versions) == 1 and _is_plain_dir(versions[0]):
            return versions[0], versions[0].name
        raise InputError(
            f"evidence/ holds {', '.join(sorted(p.name for p in versions)) or 'nothing'}, not exactly one <version> directory",
            source=str(path),
            hint="pass one evidence/<version> directory",
        )
    if below := next(_bundles_below(path), None):
        # e.g. demo-output/<rc>/, which holds bundle/ and the public key: not an unsigned bundle.
        # (evidence/<version>/ with anything beside it stays a bundle that fails: a copy may hide there)
        raise InputError(
            f"is not a bundle root (it has no {ATTESTATIONS}); a bundle is in {below}",
            source=str(path),
            hint=f"pass {below}",
        )
    return path, None


def _bundles_below(path: Path, depth: int = 3) -> Iterator[Path]:
    """Bundle roots up to `depth` folders below `path` (whatever cannot be listed is passed over)."""
    if depth == 0:
        return
    try:
        folders = sorted(
            entry for entry in path.iterdir() if _is_plain_dir(entry) and entry.name != "evidence"
        )
    except OSError:
        return
    for folder in folders:
        if (folder / ATTESTATIONS).is_file():
            yield folder
        else:
            yield from _bundles_below(folder, depth - 1)


def _is_plain_dir(path: Path) -> bool:
    return stat.S_ISDIR(path.lstat().st_mode)


MAX_HEADER_BYTES = 64 << 10
"""The largest PAX or GNU long-name header read: ours hold a path of at most 512 characters.
Python's tar reader loads such a header whole, and the size limits apply only to members, so
without this cap a 3 MB archive could make it hold a 900 MiB header."""
_EXTENDED_HEADERS = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class _CappedTarInfo(tarfile.TarInfo):
    """A tar header whose extended headers are size-checked before their data is read."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            # its sparse map may chain header blocks without end, each read into memory
            raise VerificationFailed(
                f"member {self.name[:80]!r} is a sparse file; a bundle holds regular files only"
            )
        if self.type in _EXTENDED_HEADERS and self.size > MAX_HEADER_BYTES:
            raise VerificationFailed(
                f"an extended tar header (type {self.type!r}) of {self.size} bytes is over the "
                f"{MAX_HEADER_BYTES}-byte limit; no bundle this tool wrote has one",
            )
        return super()._proc_member(archive)  # type: ignore[misc]


def read_archive(stream: BinaryIO, *, source: str, limits: ReadLimits = DEFAULT_LIMITS) -> BundleFiles:
    """Members of a bundle tar.gz under its single `evidence/<version>/` root, checked one by one.

    The archive is streamed: each header is size-checked before it is read (`_CappedTarInfo`),
    each member's size against the limits before its data is decompressed, and its data is
    copied to a `SpooledFiles` with its digest, so memory stays bounded whatever the archive.
    """
    gunzip = _BoundedGunzip(stream, source=source, budget=_decompressed_budget(limits))
    files = SpooledFiles()
    root: str | None = None
    total = 0
    try:
        with tarfile.open(
            fileobj=io.BufferedReader(gunzip, 1 << 16), mode="r|", tarinfo=_CappedTarInfo
        ) as tar:
            for member in _members(tar, source):
                where = f"{source}: member {member.name!r}"
                parts = member.name.split("/")
                if len(parts) < 3 or parts[0] != "evidence":
                    raise VerificationFailed(f"{where} is outside evidence/<version>/")
                member_root, name = "/".join(parts[:2]), "/".join(parts[2:])
                if root is not None and member_root != root:
                    raise VerificationFailed(f"{where} is outside the bundle root {root}/")
                root = member_root
                if name in files:
                    raise VerificationFailed(f"{where} appears twice")
                total += member.size
                _check_limits(name, member.size, len(files) + 1, total, limits)
                extracted = tar.extractfile(member)
                files.add(name, extracted or io.BytesIO(), member.size, where=f"{where} is truncated:")
            _check_end_of_archive(tar, source)
    except tarfile.TarError as exc:
        raise VerificationFailed(f"{source}: not a readable tar archive ({exc})") from None
    except VerificationFailed as exc:
        if exc.message.startswith(source):
            raise
        raise VerificationFailed(f"{source}: {exc.message}", hint=exc.hint) from None
    if not files or root is None:
        raise VerificationFailed(f"{source}: the archive holds no bundle files")
    return BundleFiles(files, root.split("/", 1)[1])


def _members(tar: tarfile.TarFile, source: str) -> Iterator[tarfile.TarInfo]:
    """The archive's regular members; a link, a device or a name that could leave the bundle fails."""
    for member in tar:
        check_relative_name(
            member.name.rstrip("/"), lambda message: VerificationFailed(f"{source}: {message}")
        )
        if member.isdir():
            continue
        if not member.isreg() or member.issparse():
            raise VerificationFailed(
                f"{source}: member {member.name!r} is a link or special file; a bundle holds regular files only"
            )
        yield member


def _check_end_of_archive(tar: tarfile.TarFile, source: str) -> None:
    """After the end-of-archive marker only zero padding may follow: GNU tar would still list and
    extract a member appended there, so one we never read cannot be allowed to exist."""
    stream = tar.fileobj
    assert stream is not None  # an open archive always has its stream
    while chunk := stream.read(1 << 16):
        if chunk.strip(b"\0"):
            raise VerificationFailed(
                f"{source}: data after the tar end-of-archive marker",
                hint="a member was appended to the archive after it was written; do not trust it",
            )


def read_object_prefix(
    objects: Mapping[str, int],
    prefix: str,
    fetch: Callable[[str, int], bytes],
    *,
    source: str,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> SpooledFiles:
    """A bundle stored under an object-store prefix (the keys below `.../evidence/<version>/`).

    `objects` is the store's listing of the prefix (key -> size), checked against the limits
    before any object is fetched; `fetch(key, size)` its checksum-verified get of at most `size`
    bytes. The caller wires the store, so this module needs no S3 client.
    """
    base = prefix.rstrip("/") + "/"
    names: dict[str, str] = {}
    total = 0
    for key in sorted(objects):
        if not key.startswith(base):
            continue
        name = check_relative_name(
            key[len(base) :], lambda message: VerificationFailed(f"{source}: {message}")
        )
        total += objects[key]
        _check_limits(name, objects[key], len(names) + 1, total, limits)
        names[key] = name
    if not names:
        raise InputError("no bundle files under this prefix", source=source)
    files = SpooledFiles()
    for key, name in names.items():
        data = fetch(key, objects[key])
        if len(data) != objects[key]:
            raise VerificationFailed(
                f"{source}: {name} is {len(data)} bytes, but was listed with {objects[key]}"
            )
        files.add_bytes(name, data)
    return files


def root_version_of(location: str) -> str | None:
    """`<version>` when a path or URI ends in `evidence/<version>`; None otherwise."""
    parts = location.rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "evidence" else None


def _decompressed_budget(limits: ReadLimits) -> int:
    # the members, a header block (and a PAX header) per member, the end marker and padding
    return limits.max_total_bytes + 3 * 512 * (limits.max_files + 2) + (1 << 20)


class _BoundedGunzip(io.RawIOBase):
    """A gzip stream decompressed on demand, never past `budget` bytes in total.

    A gzip bomb stops at the budget; a truncated stream is caught by the missing end-of-stream
    marker, not by luck in the tar reader. Several gzip members one after the other are one
    stream (RFC 1952, what `cat a.gz b.gz` and pigz write); anything else after the end is refused.
    """

    def __init__(self, raw: BinaryIO, *, source: str, budget: int) -> None:
        super().__init__()
        self._raw = raw
        self._source = source
        self._budget = budget
        self._produced = 0
        self._inflater = zlib.decompressobj(wbits=31)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self._inflater.eof and not self._next_member():
                return 0
            if not self._pending:
                self._pending = self._raw.read(1 << 16)
                if not self._pending:
                    raise VerificationFailed(
                        f"{self._source}: the archive is truncated (gzip stream ends early)"
                    )
            try:
                chunk = self._inflater.decompress(self._pending, len(buffer))
            except zlib.error as exc:
                raise VerificationFailed(
                    f"{self._source}: not a valid gzip stream ({gzip_problem(exc)})"
                ) from None
            self._pending = self._inflater.unconsumed_tail
            if chunk:
                self._produced += len(chunk)
                if self._produced > self._budget:
                    raise VerificationFailed(
                        f"{self._source}: decompresses to more than {self._budget} bytes"
                    )
                buffer[: len(chunk)] = chunk
                return len(chunk)

    def _next_member(self) -> bool:
        """After one gzip member: start the next one, or False at the end of the input."""
        rest = self._inflater.unused_data + self._pending
        while len(rest) < 2:
            more = self._raw.read(2 - len(rest))
            if not more:
                break
            rest += more
        if not rest:
            return False
        if not rest.startswith(_GZIP_MAGIC):
            raise VerificationFailed(f"{self._source}: unexpected data after the end of the gzip stream")
        self._inflater = zlib.decompressobj(wbits=31)
        self._pending = rest
        return True


_GZIP_MAGIC = b"\x1f\x8b"


def _check_limits(name: str, size: int, count: int, total: int, limits: ReadLimits) -> None:
    if count > limits.max_files:
        raise VerificationFailed(f"more than {limits.max_files} files; not a bundle this tool wrote")
    if size > limits.max_file_bytes:
        raise VerificationFailed(
            f"{name}: {size} bytes is over the {limits.max_file_bytes}-byte limit per file"
        )
    if total > limits.max_total_bytes:
        raise VerificationFailed(f"{name}: the bundle exceeds {limits.max_total_bytes} bytes in total")
