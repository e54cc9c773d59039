"""The disk that holds k6's raw output fills up: a clear error naming the path and the cause.

A real ENOSPC, not a simulation: the step's temporary directory (where k6 writes `--out json`)
is put on a 64 KiB tmpfs, which a 3 s load test overfills many times over.
"""

from __future__ import annotations

import tempfile

from tests.reliability.conftest import LOAD_ASSETS, load_config, materializations, run_assets, step_failures

SEGMENT_STEP = "load_samples.run_load_segment[segment_0]"


def test_raw_output_disk_full_is_a_clear_error_naming_the_path(
    pipeline_env, instance, tiny_disk, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tiny_disk))
    monkeypatch.setenv("TMPDIR", str(tiny_disk))
    result = run_assets(instance, LOAD_ASSETS, load_config("3s", read_vus=2, write_vus=1))
    # the disk really filled: k6 said so on stderr, which the step logs
    k6_said = [e.user_message for e in instance.all_logs(result.run_id) if e.user_message.startswith("k6 ")]
    assert any("no space left on device" in line for line in k6_said)

    assert not result.success, "a load test whose raw output did not fit on disk succeeded"
    for asset in ("read_load_samples", "write_load_samples"):
        assert not materializations(instance, asset)
    failure = step_failures(instance, result.run_id)[SEGMENT_STEP]
    assert failure.cls_name in ("ToolError", "StorageError"), failure.full_text
    assert "no space left on device" in failure.message.lower()
    assert str(tiny_disk) in failure.message
