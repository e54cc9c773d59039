"""Work run in a thread beside a block (a sampler, a probe), stopped and joined when the block ends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def in_background(work: Callable[[threading.Event], None], name: str) -> Iterator[None]:
    """Run `work(stop)` in a daemon thread while the block runs; after it (also on an error), set
    `stop` and wait for `work` to return. What `work` raised is raised again here, in the caller's
    thread, once the block has ended without an error of its own (an unexpected error is never lost
    with its thread)."""
    stop = threading.Event()
    raised: list[Exception] = []

    def run() -> None:
        try:
            work(stop)
        except Exception as error:  # noqa: BLE001 - raised again below, in the caller's thread
            raised.append(error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if raised:
        raise raised[0]
