"""Bombs inside the limits: archives, directories, object-store prefixes and Parquet files that
stay within every documented size cap yet took `verify` and `audit` past 1 GB before.

Each runs the real CLI in a subprocess and measures its peak RSS (`wait4`): under 1 GiB, under
60 s, and exit 1 or 2, never 0 and never a signal. An address-space limit (4 GiB) keeps a
regression from taking the shared machine down with it; hitting it is a signal, so a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.evidence.conftest import RC, BuildBundle, evidence_files
from verification_pipeline.evidence.bundle_io import write_directory
from verification_pipeline.evidence.keys import KeyPairFiles
from verification_pipeline.evidence.raw import MAX_RAW_ROWS
from verification_pipeline.evidence.statements import ReleaseCandidate
from verification_pipeline.loadtest.ingest import SAMPLE_SCHEMA
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

# each bomb must end within TIME_BOUND_S: run with the tests that measure time (tests/conftest.py)
pytestmark = pytest.mark.timing

MEMORY_BOUND = 1 << 30
TIME_BOUND_S = 60
_SAFETY_NET = 4 << 30
MIB = 1 << 20
_CLI = (
    "import resource, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({_SAFETY_NET}, {_SAFETY_NET})); "
    "from verification_pipeline.cli import main; sys.exit(main())"
)
# A process's peak RSS (ru_maxrss) counts the image it was forked from until it execs, so the CLI
# is started by this small launcher, not by the (large) test process; the launcher reports the
# CLI's exit status and peak RSS as `<status> <bytes>` on its stdout.
_LAUNCHER = f"""
import os, subprocess, sys
cli = subprocess.Popen([sys.executable, "-c", {_CLI!r}, *sys.argv[1:]], stdout=sys.stderr, stderr=sys.stderr)
_, status, usage = os.wait4(cli.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
"""


@dataclass(frozen=True)
class Run:
    code: int
    output: str
    peak_rss: int
    seconds: float


def run_cli(*args: str, env: dict[str, str] | None = None) -> Run:
    """The CLI in its own process: exit code (negative for a signal), output, peak RSS, seconds."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # on a timeout the launcher and the CLI are killed together
    )
    try:
        report, output = proc.communicate(timeout=TIME_BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        report, output = proc.communicate()
        return Run(-signal.SIGKILL, output.decode(errors="replace"), 0, time.monotonic() - started)
    code, peak = (int(field) for field in report.split())
    return Run(code, output.decode(errors="replace"), peak, time.monotonic() - started)


def assert_bounded(run: Run, *, codes: Iterable[int] = (1, 2), says: str = "") -> None:
    detail = f"exit {run.code}, {run.peak_rss / MIB:.0f} MiB, {run.seconds:.1f} s:\n{run.output[-2000:]}"
    print(f"bounded: {detail.splitlines()[0]}")  # the figures, with -s
    assert run.code in tuple(codes), detail
    assert run.peak_rss < MEMORY_BOUND, detail
    assert run.seconds < TIME_BOUND_S, detail
    assert "Traceback" not in run.output, detail
    assert says in run.output, detail


# --- archives -------------------------------------------------------------------------------------


def _zeros(size: int) -> Iterator[bytes]:
    block = bytes(4 * MIB)
    while size > 0:
        yield block[: min(size, len(block))]
        size -= len(block)


def _member(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> Iterator[bytes]:
    """One tar member (a header claiming `size`, then that many zero bytes and the padding)."""
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    yield from _zeros(size)
    yield bytes(-size % 512)


def _write_gz(path: Path, pieces: Iterable[bytes]) -> Path:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        for piece in pieces:
            out.write(deflate.compress(piece))
        out.write(deflate.compress(bytes(1024)))  # the end-of-archive marker
        out.write(deflate.flush())
    return path


@pytest.mark.parametrize(
    ("kind", "says"),
    [(tarfile.XHDTYPE, "extended tar header"), (tarfile.GNUTYPE_LONGNAME, "extended tar header")],
    ids=["pax-header-900MiB", "gnu-long-name-900MiB"],
)
def test_a_900_mib_extended_header_is_refused_before_it_is_read(
    kind: bytes, says: str, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    archive = _write_gz(
        tmp_path / "bundle.tar.gz",
        [*_member("././@LongHeader", 900 * MIB, kind), *_member("evidence/v24.1/manifest.json", 2)],
    )
    assert archive.stat().st_size < 4 * MIB  # within every size cap of the README
    assert_bounded(run_cli("verify", str(archive), "--public-key", str(key_pair.public_key)), says=says)
    assert_bounded(run_cli("audit", str(archive)), says=says)


@pytest.mark.slow
def test_four_members_of_256_mib_exactly_at_the_limits_stay_bounded(
    key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    archive = _write_gz(
        tmp_path / "bundle.tar.gz",
        [piece for n in range(4) for piece in _member(f"evidence/v24.1/raw/f{n}.bin", 256 * MIB)],
    )
    run = run_cli("verify", str(archive), "--public-key", str(key_pair.public_key))
    assert_bounded(run, says="attestations.intoto.jsonl: missing")


@pytest.mark.slow
def test_a_directory_of_four_sparse_255_mib_files_stays_bounded(
    key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    root = tmp_path / "bundle"
    (root / "raw").mkdir(parents=True)
    (root / "attestations.intoto.jsonl").write_bytes(b"\n")
    for n in range(4):
        with (root / "raw" / f"f{n}.bin").open("wb") as handle:
            handle.truncate(255 * MIB)  # sparse: nothing on disk, 255 MiB of zeros when read
    run = run_cli("verify", str(root), "--public-key", str(key_pair.public_key))
    assert_bounded(run, says="no signed")


# --- Parquet --------------------------------------------------------------------------------------


def _repeated_rows_parquet(path: Path, rows: int) -> Path:
    """`rows` identical requests in a small file (constant columns compress to almost nothing),
    written a million rows at a time so the test itself stays small."""
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("op", pa.string()),
            ("latency_ms", pa.float64()),
            ("status", pa.int32()),
            ("ok", pa.bool_()),
            ("failure", pa.string()),
            ("scenario", pa.string()),
            ("segment", pa.string()),
            ("ingest_ms", pa.float64()),
        ]
    )
    assert schema.names == list(SAMPLE_SCHEMA)
    chunk = 1_000_000
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([1_735_689_600_000_000] * chunk, pa.timestamp("us", tz="UTC")),
            pa.array(["read"] * chunk),
            pa.array([1.0] * chunk),
            pa.array([200] * chunk, pa.int32()),
            pa.array([True] * chunk),
            pa.nulls(chunk, pa.string()),
            pa.array(["read-scenario-with-a-longer-name"] * chunk),
            pa.array(["0:1"] * chunk),
            pa.nulls(chunk, pa.float64()),
        ],
        schema=schema,
    )
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, rows, chunk):
            writer.write_batch(batch.slice(0, min(chunk, rows - start)))
    return path


def _deep_schema_parquet(path: Path, depth: int = 2000) -> Path:
    column = pa.array([1], pa.int64())
    for _ in range(depth):
        column = pa.StructArray.from_arrays([column], names=["f"])
    pq.write_table(pa.table({"x": column}), path)
    return path


@pytest.fixture(scope="module")
def row_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = _repeated_rows_parquet(tmp_path_factory.mktemp("bomb") / "read.parquet", MAX_RAW_ROWS - 1)
    data = path.read_bytes()
    assert len(data) < 2 * MIB, len(data)
    return data


def _bundle_with_raw(build_bundle: BuildBundle, raw: bytes, out: Path, *, stem: str = "read") -> Path:
    files = evidence_files(RC.version)
    files[f"raw/{stem}.parquet"] = raw
    return write_directory(build_bundle(files=files), out)


@pytest.mark.slow
def test_twenty_million_repeated_rows_in_600_kb_stay_bounded_in_audit(
    row_bomb: bytes, build_bundle: BuildBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    bundle = _bundle_with_raw(build_bundle, row_bomb, tmp_path / "rc1")
    says = "raw/read.parquet: decodes to more than"
    assert_bounded(run_cli("audit", str(bundle)), says=says)
    assert_bounded(run_cli("audit", str(bundle), "--public-key", str(key_pair.public_key)), says=says)


@pytest.mark.slow
def test_a_row_bomb_in_the_baseline_bundle_stays_bounded_in_audit_baseline(
    row_bomb: bytes, build_bundle: BuildBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    baseline_rc = ReleaseCandidate(tag="v24.1.0-rc0", commit="1" * 40, version=RC.version)
    files = evidence_files(baseline_rc.version)
    files["raw/read.parquet"] = row_bomb
    baseline = write_directory(build_bundle(files=files, rc=baseline_rc), tmp_path / "rc0")
    current = evidence_files(RC.version)
    current["slo/metrics.json"] = json.dumps(
        {"spec": {"source": "slos.yaml", "yaml": DEFAULT_SLOS_PATH.read_text()}}
    ).encode()
    current["slo/baseline.json"] = json.dumps(
        {
            "rc": RC.tag,
            "status": "COMPARED",
            "baseline": {"rc": baseline_rc.tag, "commit": baseline_rc.commit},
        }
    ).encode()
    bundle = write_directory(build_bundle(files=current), tmp_path / "rc1")
    run = run_cli("audit", str(bundle), "--public-key", str(key_pair.public_key), "--baseline", str(baseline))
    assert_bounded(run, says="baseline bundle ")
    assert "raw/read.parquet: decodes to more than" in run.output


def test_a_2000_level_nested_schema_is_refused_not_a_crash(
    build_bundle: BuildBundle, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    deep = _deep_schema_parquet(tmp_path / "deep.parquet").read_bytes()
    bundle = _bundle_with_raw(build_bundle, deep, tmp_path / "rc1", stem="fanout")
    run = run_cli("audit", str(bundle), "--public-key", str(key_pair.public_key))
    assert_bounded(run, says="raw/fanout.parquet: not a readable Parquet file")


# --- the object store -----------------------------------------------------------------------------


@pytest.mark.slow
def test_an_oversized_object_is_refused_from_the_listing_before_it_is_downloaded(
    s3_stack, key_pair: KeyPairFiles, tmp_path: Path
) -> None:
    store = s3_stack.store()
    prefix = f"bombs/{RC.tag}/run-{os.getpid()}/evidence/{RC.version}"
    store.put_bytes(f"{prefix}/attestations.intoto.jsonl", b"\n")
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(257 * MIB)
    store._client.upload_file(
        str(big), store.bucket, f"{prefix}/raw/read.parquet"
    )  # a raw upload: no checksum, as an attacker's
    env = {**os.environ, **s3_stack.env}
    run = run_cli(
        "verify", f"s3://{store.bucket}/{prefix}/", "--public-key", str(key_pair.public_key), env=env
    )
    assert_bounded(run, says="over the 268435456-byte limit per file")
    assert run.peak_rss < 400 * MIB, f"{run.peak_rss / MIB:.0f} MiB: the object was downloaded"
