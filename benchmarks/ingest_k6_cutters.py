"""Two byte-level alternatives to the k6 NDJSON stages, timed beside the code they would replace.

On one ~8 MB chunk of whole lines (the block size the reader hands a worker) of a generated
k6 `--out json` file (`ingest_k6.generate`), in one process, the contenders taking turns
(`--repeat` rounds, min and median per contender):

- split + filter: ours (`read_csv` into a column of lines, polars layout check, wanted lines
  by prefix) beside a numpy line index (newlines by `arr == 10`, line starts and the wanted
  prefixes compared as unaligned 8-byte words, wanted lines joined and read by `read_csv`);
- parse: ours (`ndjson_fields`, one `str.extract` per field) beside a field cutter that finds
  each key as a literal (`str.find`) and cuts at the next quote (`str.slice`), exact only for
  ASCII lines without a backslash (it would need the regex path as a fallback for the rest).

Both alternatives are checked to give the same lines and fields before they are timed.

    uv run python benchmarks/ingest_k6_cutters.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from ingest_k6 import generate

from verification_pipeline.loadtest.ingest.blocks import BLOCK_BYTES
from verification_pipeline.loadtest.ingest.ndjson import (
    _LINE_STARTS,
    _WANTED_PREFIXES,
    ndjson_fields,
    picked_lines,
)
from verification_pipeline.loadtest.ingest.schema import METRICS

LINE = pl.col("line")


def ours_split_filter(chunk: bytes) -> pl.DataFrame:
    text = pl.read_csv(chunk, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String})
    _bad, points = picked_lines(text)
    return points.with_columns(pl.col("row").cast(pl.Int64))


def _word(text: bytes, at: int) -> int:
    return int.from_bytes(text[at : at + 8].ljust(8, b"\0"), "little")


def numpy_split_filter(chunk: bytes) -> pl.DataFrame:
    size = len(chunk)
    arr = np.frombuffer(chunk, np.uint8)
    words = np.ndarray(shape=(size - 7,), dtype="<u8", buffer=chunk, strides=(1,))
    ends = np.flatnonzero(arr == ord("\n"))
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts
    first = words[np.minimum(starts, size - 8)]
    layout = (arr[np.maximum(ends - 1, 0)] == ord("}")) & (
        (first == _word(_LINE_STARTS[0].encode(), 0)) | (first == _word(_LINE_STARTS[1].encode(), 0))
    )
    _first_bad = -1 if layout.all() else int(np.argmin(layout))
    name_head = words[np.minimum(starts + 11, size - 8)]
    picked, metrics = [], []
    for index, prefix in enumerate(p.encode() for p in _WANTED_PREFIXES):
        rows = np.flatnonzero(name_head == _word(prefix, 11))
        keep = lengths[rows] >= len(prefix)
        for at in range(19, len(prefix), 8):
            at = min(at, len(prefix) - 8)
            keep &= words[np.minimum(starts[rows] + at, size - 8)] == _word(prefix, at)
        picked.append(rows[keep])
        metrics.append(np.full(int(keep.sum()), index, np.int8))
    rows = np.concatenate(picked)
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    view = memoryview(chunk)
    joined = b"\n".join([view[s:e] for s, e in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)])
    text = pl.read_csv(
        joined, has_header=False, separator="\x1f", quote_char=None, schema={"line": pl.String}
    )
    names = pl.Series(np.concatenate(metrics)[order]).replace_strict(list(range(len(METRICS))), list(METRICS))
    return text.select(row=pl.Series(rows, dtype=pl.Int64), line=LINE, metric=names)


_FIELDS = {
    "time": '"time":"',
    "value": '"value":',
    "status": '"status":"',
    "error_code": '"error_code":"',
    "scenario": '"scenario":"',
    "op": '"op":"',
    "request_id": '"request_id":"',
}


def cutter_fields(points: pl.DataFrame) -> pl.DataFrame:
    """ndjson_fields for ASCII lines without a backslash: each key found as a literal, cut at its end."""

    def cut(key: str) -> pl.Expr:
        rest = LINE.str.slice(LINE.str.find(key, literal=True) + len(key))
        end = rest.str.find("[,}]") if key == _FIELDS["value"] else rest.str.find('"', literal=True)
        return rest.str.slice(0, end)

    per_request = pl.col("metric").is_in(["graphql_errors", "ingest_duration"])
    return pl.concat(
        [
            points.filter(~per_request).select(
                "row", "metric", **{name: cut(key) for name, key in _FIELDS.items()}
            ),
            points.filter(per_request).select(
                "row", "metric", value=cut(_FIELDS["value"]), request_id=cut(_FIELDS["request_id"])
            ),
        ],
        how="diagonal",
    )


def timed(contenders: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, work in contenders.items():
            started = time.perf_counter()
            work()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=41, help="rounds of all contenders (default 41)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingest_k6_cutters_") as workdir:
        path = Path(workdir) / "read.json"
        generate(path, 12)
        chunk = path.read_bytes()[:BLOCK_BYTES]
    chunk = chunk[: chunk.rfind(b"\n") + 1]
    points = ours_split_filter(chunk)
    if not numpy_split_filter(chunk).equals(points):
        raise SystemExit("the numpy line index picked other lines than ours")
    simple = points.filter(~LINE.str.contains("\\", literal=True))
    if not cutter_fields(simple).equals(ndjson_fields(simple)):
        raise SystemExit("the field cutter cut other fields than the regex extracts")
    seconds = timed(
        {
            "split + filter: ours (read_csv, polars)": lambda: ours_split_filter(chunk),
            "split + filter: numpy line index": lambda: numpy_split_filter(chunk),
            "parse: ours (str.extract per field)": lambda: ndjson_fields(points),
            "parse: literal find + slice cutter": lambda: cutter_fields(points),
        },
        args.repeat,
    )
    lines = chunk.count(b"\n")
    print(
        f"one chunk: {len(chunk) / 1e6:.1f} MB, {lines} lines, {points.height} wanted; {args.repeat} rounds"
    )
    print()
    print("| contender | min ms | median ms |")
    print("| --- | ---: | ---: |")
    for name, times in seconds.items():
        print(f"| {name} | {min(times) * 1e3:.2f} | {statistics.median(times) * 1e3:.2f} |")
    print()
    names = list(seconds)
    for ours, other in ((names[0], names[1]), (names[2], names[3])):
        ratios = [b / a for a, b in zip(seconds[ours], seconds[other], strict=True)]
        print(
            f"{other} / ours, per round: median {statistics.median(ratios):.2f}, "
            f"range {min(ratios):.2f}-{max(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
