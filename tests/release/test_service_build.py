"""The build under test must be the RC's: read from the real reference target before any load."""

import pytest

from verification_pipeline.errors import ConfigError, GateFailed, TargetError
from verification_pipeline.paths import project_root
from verification_pipeline.release.git import checkout_head
from verification_pipeline.release.service_build import read_service_build, waived

OTHER = "0123456789abcdef0123456789abcdef01234567"


def test_the_reference_target_reports_the_commit_it_was_started_with_and_it_matches(target):
    head = checkout_head(project_root())
    build = read_service_build(head, f"{target.base_url}/version")
    assert build.verified and build.reported_commit == head
    assert build.signed()["source"] == f"{target.base_url}/version [commit]"


def test_another_build_stops_the_run_naming_both_commits(target):
    with pytest.raises(
        GateFailed, match=r"reports build [0-9a-f]{12}, but the RC is commit 0123456789ab"
    ) as caught:
        read_service_build(OTHER, f"{target.base_url}/version")
    assert caught.value.exit_code == 1 and "before any load" in str(caught.value)


def test_a_service_without_a_version_endpoint_is_an_error_that_points_to_the_waiver(target):
    with pytest.raises(TargetError, match="HTTP 404") as caught:
        read_service_build(OTHER, f"{target.base_url}/no-such-endpoint")
    assert "waive" in str(caught.value)


def test_the_commit_can_come_from_a_response_header(target):
    # the target sends no such header: a real service configured this way would
    with pytest.raises(TargetError, match=r"\[header x-build-commit\]: no commit reported"):
        read_service_build(OTHER, f"{target.base_url}/version", header="x-build-commit")


def test_a_waiver_needs_a_reason_and_is_never_verified():
    with pytest.raises(ConfigError, match="waiver_reason"):
        waived(OTHER, "  ")
    build = waived(OTHER, "the legacy service has no version endpoint")
    assert not build.verified and build.signed()["waiver"] == "the legacy service has no version endpoint"
