"""Compiled JSON readers in place of the parse stage's regex extracts, each beside the grep floor.

Issue 28 asks for k6 NDJSON ingestion within 3x of `LC_ALL=C grep -cF` of the request lines,
and the parse stage (seven `str.extract` calls per request line) is its largest. This runs the
whole ingestion of a generated k6 file (`ingest_k6.generate`) with the parse stage's field
cutter (`ndjson.ndjson_fields`) swapped for one compiled call per chunk, every contender in its
own interpreter and taking turns with the floor, so each ratio compares the same rounds:

- `str.json_decode` of the wanted lines into a struct of the fields read (polars, one call);
- `pl.read_ndjson` of the wanted lines joined, with an explicit schema (polars' NDJSON reader);
- `pyarrow.json.read_json` of the same bytes, explicit schema, unexpected fields ignored;
- `str.split_exact('"', 16)` for time and value (k6 writes the envelope's fields in order), the
  five tag and metadata fields still by `str.extract` (tags are a map: their positions vary).

Since the compiled scanner (`_k6scan.c`), "ours: str.extract" is the polars path with the scanner
turned off (the reference), and the scanner is a contender beside it (`--scanner-only`: just the
two and the floor).

Every contender must give exactly our rows (checked by a hash of the whole frame, printed as
`rows` and `hash`), or the run stops. The JSON readers unescape strings and read keys by path,
where the extracts keep the escaped text of the first occurrence: equal on this file (no escapes,
no repeated keys), not on hostile lines; so a winner would still need the extracts as the oracle.

    uv run python benchmarks/ingest_k6_parsers.py --repeat 5
    uv run python benchmarks/ingest_k6_parsers.py --repeat 7 --scanner-only
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ingest_k6 import GREP, GREP_REQUESTS, Measured, _measure, generate

_IMPORTS = """
import io
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
from verification_pipeline.loadtest.ingest import StageTimes, ingest, ndjson

LINE = pl.col("line")
TAGS = ("status", "error_code", "scenario", "op")
DATA = pl.Struct(
    {
        "time": pl.String,
        "value": pl.Float64,
        "tags": pl.Struct({tag: pl.String for tag in TAGS}),
        "metadata": pl.Struct({"request_id": pl.String}),
    }
)
POINT = pl.Struct({"data": DATA})


def from_data(lines, data):
    # the raw text fields `ndjson_fields` gives (value as text: checked_points casts it)
    tags = data.struct.field("tags")
    return lines.select(
        "row",
        "metric",
        time=data.struct.field("time"),
        value=data.struct.field("value").cast(pl.String),
        **{tag: tags.struct.field(tag) for tag in TAGS},
        request_id=data.struct.field("metadata").struct.field("request_id"),
    )


def by_json_decode(lines):
    return from_data(lines, LINE.str.json_decode(POINT).struct.field("data"))


def joined(lines):
    return (lines["line"].str.join("\\n")[0] or "").encode()


def by_read_ndjson(lines):
    read = pl.read_ndjson(io.BytesIO(joined(lines)), schema={"data": DATA})
    return from_data(lines.with_columns(read["data"]), pl.col("data"))


ARROW = pa.schema(
    [
        (
            "data",
            pa.struct(
                [
                    ("time", pa.string()),
                    ("value", pa.float64()),
                    ("tags", pa.struct([(tag, pa.string()) for tag in TAGS])),
                    ("metadata", pa.struct([("request_id", pa.string())])),
                ]
            ),
        )
    ]
)


def by_pyarrow(lines):
    options = pa_json.ParseOptions(explicit_schema=ARROW, unexpected_field_behavior="ignore")
    read = pl.from_arrow(pa_json.read_json(io.BytesIO(joined(lines)), parse_options=options))
    return from_data(lines.with_columns(read["data"]), pl.col("data"))


def by_split_exact(lines):
    # {"metric":"M","type":"Point","data":{"time":"T","value":V,"tags":{...: cut at the quotes
    parts = LINE.str.split_exact('"', 16)
    value = parts.struct.field("field_16")
    return lines.select(
        "row",
        "metric",
        time=parts.struct.field("field_13"),
        value=value.str.slice(1, value.str.len_bytes() - 2),
        status=LINE.str.extract(r'"status":"([^"]*)"'),
        error_code=LINE.str.extract(r'"error_code":"([^"]*)"'),
        scenario=LINE.str.extract(r'"scenario":"((?:[^"\\\\]|\\\\.)*)"'),
        op=LINE.str.extract(r'"op":"((?:[^"\\\\]|\\\\.)*)"'),
        request_id=LINE.str.extract(r'"request_id":"((?:[^"\\\\]|\\\\.)*)"'),
    )
"""


def _contender(parse: str | None, *, scanner: bool = False) -> tuple[str, str]:
    # The polars path (the reference) unless `scanner`: the compiled scanner gives every chunk back.
    swap = "" if scanner else "ndjson.scanned_points = lambda data, clock: None\n"
    swap += f"ndjson.ndjson_fields = {parse}\n" if parse else ""
    return (
        _IMPORTS,
        swap
        + """
cpu = time.process_time()
frame = ingest(path, role="read")
stages = {"cpu": time.process_time() - cpu}
result = f"{frame.height} rows, hash {frame.hash_rows(seed=1).sum()}"
""",
    )


# The floor's CPU seconds: those of its grep child.
FLOOR = (
    GREP_REQUESTS[0],
    GREP_REQUESTS[1]
    + """
used = resource.getrusage(resource.RUSAGE_CHILDREN)
stages = {"cpu": used.ru_utime + used.ru_stime}
""",
)
CONTENDERS = {
    "ours: str.extract per field": _contender(None),
    "ours: the compiled scanner (_k6scan.c), one pass per chunk": _contender(None, scanner=True),
    "str.json_decode into a struct": _contender("by_json_decode"),
    "pl.read_ndjson of the wanted lines": _contender("by_read_ndjson"),
    "pyarrow.json.read_json of the wanted lines": _contender("by_pyarrow"),
    "str.split_exact for time, value + 5 extracts": _contender("by_split_exact"),
    "LC_ALL=C grep -cF of the request lines (the floor)": FLOOR,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=650, help="size of the generated file (default 650)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all contenders (default 3)")
    parser.add_argument(
        "--scanner-only",
        action="store_true",
        help="only the polars path, the compiled scanner and the floor (the JSON readers take minutes)",
    )
    args = parser.parse_args()
    contenders = (
        dict(list(CONTENDERS.items())[:2] + list(CONTENDERS.items())[-1:])
        if args.scanner_only
        else CONTENDERS
    )
    workdir = Path(tempfile.mkdtemp(prefix="ingest_k6_parsers_"))
    try:
        path = workdir / "read.json"
        requests = generate(path, args.size_mb)
        size = path.stat().st_size
        print(f"generated {size / 1e6:.0f} MB, {requests} requests: {path}", flush=True)
        _measure(GREP, path)  # warm the page cache
        runs: dict[str, list[Measured]] = {name: [] for name in contenders}
        for round_ in range(1, max(1, args.repeat) + 1):
            started = time.perf_counter()
            for name, contender in contenders.items():
                runs[name].append(_measure(contender, path))
            figures = ", ".join(f"{run[-1].seconds:.2f}" for run in runs.values())
            print(f"round {round_} ({time.perf_counter() - started:.0f} s): {figures}", flush=True)
        ours, *alternatives, floor = contenders
        for name in alternatives:
            if runs[name][-1].result != runs[ours][-1].result:
                raise SystemExit(f"{name} gave other rows than ours: {runs[name][-1].result}")
        print()
        print(
            "| parse stage | median s | / the floor: median (range) | CPU s | CPU / the floor's "
            "| peak RSS MB | result |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for name, measured in runs.items():
            ratios = [run.seconds / base.seconds for run, base in zip(measured, runs[floor], strict=True)]
            cpu = [
                run.stages["cpu"] / base.stages["cpu"]
                for run, base in zip(measured, runs[floor], strict=True)
            ]
            print(
                f"| {name} | {statistics.median(run.seconds for run in measured):.2f} | "
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
                f"{statistics.median(run.stages['cpu'] for run in measured):.2f} | "
                f"{statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) | "
                f"{max(run.rss for run in measured) / 1e6:.0f} | {measured[-1].result} |"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
