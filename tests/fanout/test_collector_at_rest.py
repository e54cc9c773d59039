"""`looplag.collector_at_rest`: the probe's stamping windows run without garbage collection,
and the collector is back on (and the heap unfrozen) however the window ends."""

import gc

import pytest

from verification_pipeline.fanout.looplag import collector_at_rest


def test_no_collection_inside_and_the_collector_back_after() -> None:
    assert gc.isenabled()
    with collector_at_rest():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_collector_comes_back_when_the_window_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), collector_at_rest():
        raise RuntimeError("boom")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
