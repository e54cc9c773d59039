"""Requests and failures so far, counted from the k6 `--out json` files while k6 writes them.

For a person watching a load phase (the demo's live line): k6's own progress line says
iterations, not requests or errors. Only whole lines are counted; a half-written last line is
counted on the next look. This is a display, not a measurement: the figures that are judged
come from `ingest` once k6 has finished.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_REQUEST = b'"metric":"http_reqs","type":"Point"'
# k6 writes a Point's fields in this order: time, value, tags.
_FAILED = re.compile(rb'"metric":"http_req_failed","type":"Point","data":\{"time":"[^"]*","value":1[,}]')
_BLOCK = 8 << 20


@dataclass
class LoadTally:
    """Counts over every file seen so far; `update` reads only what was appended since the last call."""

    requests: int = 0
    failed: int = 0
    _offsets: dict[Path, int] = field(default_factory=dict)

    def update(self, paths: list[Path]) -> None:
        for path in paths:
            try:
                with path.open("rb") as handle:
                    handle.seek(self._offsets.get(path, 0))
                    while block := handle.read(_BLOCK):
                        whole = block[: block.rfind(b"\n") + 1]
                        if not whole:
                            break
                        self.requests += whole.count(_REQUEST)
                        self.failed += len(_FAILED.findall(whole))
                        self._offsets[path] = self._offsets.get(path, 0) + len(whole)
                        handle.seek(self._offsets[path])
            except FileNotFoundError:
                continue  # k6 has not created it yet, or its step already cleaned up
