"""`jsonio.decoded_size_bound` is an upper bound on what decoding holds, for the costliest shapes.

Memory per input byte is what an adversary picks, so the shapes are the expensive ones (tiny
containers, nesting, one-key objects, unique keys, short strings, wide characters); the memory is
tracemalloc's peak while the text is decoded and parsed, as `decode_json` does.
"""

from __future__ import annotations

import json
import tracemalloc

import pytest

from verification_pipeline.errors import FormatError
from verification_pipeline.jsonio import DECODE_BUDGET_BYTES, decode_json, decoded_size_bound

N = 20_000


def _items(item: str) -> str:
    return "[" + ",".join([item] * N) + "]"


SHAPES = {
    "empty objects": _items("{}"),
    "empty arrays": _items("[]"),
    "arrays in arrays": _items("[[[[[[]]]]]]"),
    "one-key objects": _items('{"a":1}'),
    "objects in objects": _items('{"a":{}}'),
    "unique keys": "[" + ",".join(f'{{"k{i}":0}}' for i in range(N)) + "]",
    "one large object": "{" + ",".join(f'"{i}":0' for i in range(N)) + "}",
    "two-character strings": _items('"ab"'),
    "floats": _items("1.5"),
    "large integers": _items("1234567890123"),
    "a long string, one astral escape": '["' + "x" * (N * 10) + '\\ud83d\\ude00"]',
    "a long string, one astral character": '["' + "x" * (N * 10) + '\U0001f600"]',
    "latin-1 text": '["' + "\u00e9" * (N * 10) + '"]',
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_bound_is_at_least_the_peak_memory_of_decoding(shape: str) -> None:
    data = SHAPES[shape].encode()
    tracemalloc.start()
    try:
        value = json.loads(data.decode("utf-8-sig"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del value
    assert peak <= decoded_size_bound(data), f"{shape}: peak {peak} over the bound"


def test_a_document_over_the_budget_is_refused_before_it_is_decoded() -> None:
    # 40 MB of empty objects: about 1 GB once decoded; refused on the bytes, naming the cause
    data = b"[" + b"{}," * (DECODE_BUDGET_BYTES // 40) + b"{}]"
    with pytest.raises(FormatError, match="too large to decode in memory") as caught:
        decode_json(data, "grype.json", expected="a JSON scan report")
    assert "grype.json" in str(caught.value)
