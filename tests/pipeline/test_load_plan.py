"""Planning split load: every segment gets VUs, and all segments share one start moment."""

import time

import dagster as dg
import pytest

from verification_pipeline.defs.load.assets import LoadConfig, LoadResource, plan_load_segments
from verification_pipeline.errors import ConfigError
from verification_pipeline.records import ServiceBuildRecord

SERVICE_BUILD = ServiceBuildRecord(expected_commit="a" * 40, reported_commit="a" * 40, source="test")


def plans(**config):
    return list(
        plan_load_segments(dg.build_op_context(), LoadConfig(**config), LoadResource(), SERVICE_BUILD)
    )


def test_segments_share_a_start_moment_in_the_future():
    before = time.time()
    outputs = plans(segments=3, read_vus=6, write_vus=3, start_delay_s=12)
    assert [o.mapping_key for o in outputs] == ["segment_0", "segment_1", "segment_2"]
    starts = {o.value.start_at for o in outputs}
    assert len(starts) == 1 and before + 12 <= starts.pop() <= time.time() + 12
    assert [o.value.segment for o in outputs] == ["0:1/3", "1/3:2/3", "2/3:1"]


def test_one_segment_starts_at_once():
    (only,) = plans(segments=1)
    assert only.value.start_at is None


def test_fewer_vus_than_segments_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"\[write_vus\]: 1 VUs cannot be split into 2 segments"):
        plans(segments=2, read_vus=4, write_vus=1)


def test_the_request_timeout_goes_to_every_segment_and_a_bad_one_is_refused():
    assert {o.value.timeout for o in plans(segments=2, read_vus=4, write_vus=2, request_timeout="1m30s")} == {
        "1m30s"
    }
    with pytest.raises(ConfigError, match=r"\[request_timeout\]: '30' is not a k6 duration"):
        plans(request_timeout="30")


def test_the_duration_comes_from_run_config_else_the_load_resource():
    (from_resource,) = list(
        plan_load_segments(dg.build_op_context(), LoadConfig(), LoadResource(duration="7s"), SERVICE_BUILD)
    )
    (from_config,) = list(
        plan_load_segments(
            dg.build_op_context(), LoadConfig(duration="9s"), LoadResource(duration="7s"), SERVICE_BUILD
        )
    )
    assert (from_resource.value.duration, from_config.value.duration) == ("7s", "9s")


def test_the_service_build_is_a_typed_record_that_signs_its_camel_case_form():
    """What `service_build` hands on is a record (validated where it is loaded), and the bundle
    signs the same camelCase statement as before; a waiver is never `verified`."""
    signed = SERVICE_BUILD.signed()
    assert signed == {
        "expectedCommit": "a" * 40,
        "reportedCommit": "a" * 40,
        "source": "test",
        "verified": True,
        "waiver": None,
    }
    other = ServiceBuildRecord(expected_commit="a" * 40, reported_commit="b" * 40, source="test")
    assert not other.verified and other.gate().verdict.value == "FAIL"
    assert "not the RC's" in other.gate().detail["reason"]
    waived = ServiceBuildRecord(expected_commit="a" * 40, reported_commit=None, source="waived", waiver="w")
    assert not waived.verified and waived.described() == "WAIVED: w"
    assert waived.gate().verdict.value == "INCONCLUSIVE" and "NOT CHECKED" in waived.gate().detail["reason"]
    with pytest.raises(ValueError, match="verified"):  # a derived fact, not a field to be set
        ServiceBuildRecord(expected_commit="a", reported_commit="a", source="s", verified=False)
