"""A bundle on disk: write it as a directory or a reproducible tar.gz, and read either back safely.

Reading treats the input as hostile: an archive member that is absolute, climbs out with
`..`, is a link or a device, repeats a name, or exceeds the size limits fails verification
instead of being extracted. Nothing is ever extracted to disk: members are read into memory.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from verification_pipeline.errors import InputError, VerificationFailed
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.layout import check_relative_name

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what a bundle may make us read, so a hostile archive cannot exhaust memory."""

    max_files: int = 10_000
    max_file_bytes: int = 1 << 30
    max_total_bytes: int = 4 << 30


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
    mtime = 0  # the gzip header and every member: no wall-clock time leaks into the bytes
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(bundle.files):
            data = bundle.files[name]
            info = tarfile.TarInfo(f"{bundle.root}/{name}")
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def write_archive(bundle: EvidenceBundle, path: Path) -> Path:
    data = archive_bytes(bundle)
    try:
        with path.open("xb") as out:
            out.write(data)
    except FileExistsError:
        raise InputError("already exists; evidence is write-once", source=str(path)) from None
    return path


# --- reading ----------------------------------------------------------------------------------


def read_bundle(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """The files of a bundle directory or archive, keyed by bundle-relative name."""
    if path.is_dir():
        return read_directory(path, limits)
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        return read_archive(path.read_bytes(), source=str(path), limits=limits)
    if not path.exists():
        raise InputError("does not exist", source=str(path))
    raise InputError("is neither a bundle directory nor a .tar.gz archive", source=str(path))


def read_directory(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Accepts the bundle root itself or a directory holding exactly one `evidence/<version>/`."""
    root = _directory_root(path)
    files: dict[str, bytes] = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for entry in sorted(dirnames + filenames):
            full = Path(dirpath) / entry
            name = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise VerificationFailed(f"{name}: is a symbolic link; a bundle holds regular files only")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise VerificationFailed(f"{name}: is not a regular file (device, FIFO or socket)")
            size = full.stat().st_size
            total += size
            _check_limits(name, size, len(files) + 1, total, limits)
            files[name] = full.read_bytes()
    return files


def _directory_root(path: Path) -> Path:
    candidates = (
        sorted(p for p in (path / "evidence").glob("*") if p.is_dir()) if (path / "evidence").is_dir() else []
    )
    if len(candidates) > 1:
        raise InputError(
            f"holds bundles for several versions: {[p.name for p in candidates]}",
            source=str(path),
            hint="pass one evidence/<version> directory",
        )
    return candidates[0] if candidates else path


def read_archive(data: bytes, *, source: str, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Members of a bundle tar.gz under its single `evidence/<version>/` root, checked one by one."""
    tar_bytes = _gunzip(data, source, limits)
    files: dict[str, bytes] = {}
    root: str | None = None
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar:
                where = f"{source}: member {member.name!r}"
                check_relative_name(
                    member.name.rstrip("/"), lambda message: VerificationFailed(f"{source}: {message}")
                )
                if member.isdir():
                    continue
                if not member.isreg():
                    raise VerificationFailed(
                        f"{where} is a link or special file; a bundle holds regular files only"
                    )
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
                files[name] = extracted.read() if extracted is not None else b""
                if len(files[name]) != member.size:
                    raise VerificationFailed(f"{where} is truncated")
    except tarfile.TarError as exc:
        raise VerificationFailed(f"{source}: not a readable tar archive ({exc})") from None
    if not files:
        raise VerificationFailed(f"{source}: the archive holds no bundle files")
    return files


def read_object_prefix(
    keys: Iterable[str],
    prefix: str,
    fetch: Callable[[str], bytes],
    *,
    source: str,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> dict[str, bytes]:
    """A bundle stored under an object-store prefix (the keys below `.../evidence/<version>/`).

    `keys` is the store's listing of the prefix, `fetch` its checksum-verified get; the caller
    wires the store, so this module needs no S3 client.
    """
    base = prefix.rstrip("/") + "/"
    files: dict[str, bytes] = {}
    total = 0
    for key in sorted(keys):
        if not key.startswith(base):
            continue
        name = check_relative_name(
            key[len(base) :], lambda message: VerificationFailed(f"{source}: {message}")
        )
        data = fetch(key)
        total += len(data)
        _check_limits(name, len(data), len(files) + 1, total, limits)
        files[name] = data
    if not files:
        raise InputError("no bundle files under this prefix", source=source)
    return files


def _gunzip(data: bytes, source: str, limits: ReadLimits) -> bytes:
    # Decompress in bounded steps: a gzip bomb stops at the limit, and a truncated stream is
    # caught by the missing end-of-stream marker, not by luck in the tar reader.
    budget = limits.max_total_bytes + 512 * (2 * limits.max_files + 2) + (1 << 20)
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    pending = data
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, 1 << 20)
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break  # input used up before the end-of-stream marker
            out += chunk
            if len(out) > budget:
                raise VerificationFailed(f"{source}: decompresses to more than {budget} bytes")
    except zlib.error as exc:
        raise VerificationFailed(f"{source}: not a valid gzip stream ({exc})") from None
    if not inflater.eof:
        raise VerificationFailed(f"{source}: the archive is truncated (gzip stream ends early)")
    if inflater.unused_data:
        raise VerificationFailed(f"{source}: unexpected data after the end of the gzip stream")
    return bytes(out)


def _check_limits(name: str, size: int, count: int, total: int, limits: ReadLimits) -> None:
    if count > limits.max_files:
        raise VerificationFailed(f"more than {limits.max_files} files; not a bundle this tool wrote")
    if size > limits.max_file_bytes:
        raise VerificationFailed(
            f"{name}: {size} bytes is over the {limits.max_file_bytes}-byte limit per file"
        )
    if total > limits.max_total_bytes:
        raise VerificationFailed(f"{name}: the bundle exceeds {limits.max_total_bytes} bytes in total")
