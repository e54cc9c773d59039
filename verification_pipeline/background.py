"""Work run in a thread beside a block (a sampler, a probe), stopped and joined when the block ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def in_background(work: Callable[[threading.Event], None], name: str) -> Iterator[None]:
    """Run `work(stop)` in a daemon thread while the block runs; after it (also on an error), set
    `stop` and wait for `work` to return. `work` catches what the caller must see itself."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
