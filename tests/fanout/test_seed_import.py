"""A `fanout.json` from the seed's Node script: kept as summary-only evidence, validated."""

from __future__ import annotations

import json

import pytest

from verification_pipeline.errors import FormatError, InputError
from verification_pipeline.fanout.seed_import import import_seed_fanout

SEED_OUTPUT = json.dumps({"count": 200, "p95_ms": 7.25, "p99_ms": 12}, indent=2).encode()


def test_a_seed_file_is_read_as_summary_only_evidence():
    metrics = import_seed_fanout(SEED_OUTPUT, "ci/fanout.json")
    assert (metrics["count"], metrics["p95_ms"], metrics["p99_ms"]) == (200, 7.25, 12.0)
    assert metrics["evidence"] == "summary-only"
    # what the seed cannot know stays unknown, never a reassuring zero
    assert metrics["lost"] is None and metrics["delivery_ratio"] is None and metrics["duplicates"] is None


@pytest.mark.parametrize(
    ("payload", "error", "named"),
    [
        (b'{"count": 200, "p95_ms": 7.2}', InputError, "[p99_ms]: is missing"),
        (b'{"p95_ms": 7.2, "p99_ms": 9}', InputError, "[count]"),
        (b'{"count": 0, "p95_ms": 7.2, "p99_ms": 9}', InputError, "[count]"),
        (b'{"count": 2.5, "p95_ms": 7.2, "p99_ms": 9}', InputError, "[count]"),
        (b'{"count": true, "p95_ms": 7.2, "p99_ms": 9}', InputError, "[count]"),
        (b'{"count": 3, "p95_ms": "7", "p99_ms": 9}', InputError, "[p95_ms]"),
        (b'{"count": 3, "p95_ms": null, "p99_ms": 9}', InputError, "[p95_ms]"),
        (b'{"count": 3, "p95_ms": NaN, "p99_ms": 9}', InputError, "[p95_ms]"),
        (b'{"count": 3, "p95_ms": 9, "p99_ms": 7}', InputError, "[p99_ms]"),
        (b"[200, 7, 9]", FormatError, "got list"),
        (b'{"count": 3, "p95_ms": -5, "p99_ms": -1}', InputError, "[p95_ms]: must be a finite, non-negative"),
        (b'{"count": 3, "p95_ms": 1, "p99_ms": ' + b"9" * 400 + b"}", InputError, "[p99_ms]"),
        (b'{"count": 200,\n "p95_ms": }', FormatError, "fanout.json:2: malformed JSON"),
        (b'{"count": 1,\n "p95_ms": ' + b"1" * 4301 + b"}", FormatError, "fanout.json:2: holds an integer"),
        (b"[" * 100_000, FormatError, "nested too deeply"),
        (b"\xff\xfe", FormatError, "not valid UTF-8"),
    ],
)
def test_a_bad_file_is_refused_naming_the_field(payload, error, named):
    with pytest.raises(error) as raised:
        import_seed_fanout(payload, "s3://ci/fanout.json")
    assert named in str(raised.value)
    assert "s3://ci/fanout.json" in str(raised.value)
