"""The RC sensor against a real git repository made in the test, and the nightly schedule."""

import json

import dagster as dg
import pytest

from tests.gitrepo import git, new_repo
from verification_pipeline.defs.load.assets import LOAD_ASSET, PLAN_OP
from verification_pipeline.defs.partitions import release_candidates
from verification_pipeline.defs.release.resources import GitRepoResource
from verification_pipeline.defs.release.schedules import nightly_reverification
from verification_pipeline.defs.release.sensors import build_sensors

SENSORS = {sensor.name: sensor for sensor in build_sensors()}


@pytest.fixture
def repo(tmp_path):
    path = new_repo(tmp_path / "service")
    git(path, "tag", "-a", "v24.1.0-rc1", "-m", "rc1")
    git(path, "tag", "v24.1.0-rc2")  # lightweight tags count too
    git(path, "tag", "v24.0.0")  # a release, not an RC
    return path


class Ticker:
    """Evaluate the sensor like the daemon does: keep the cursor, apply partition requests."""

    def __init__(self, instance, repo, tag_pattern: str = GitRepoResource().tag_pattern):
        self.instance = instance
        self.git_repo = GitRepoResource(repo=str(repo), tag_pattern=tag_pattern)
        self.cursor = None

    def tick(self):
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources={"git_repo": self.git_repo}
        ) as ctx:
            result = SENSORS["release_candidate_sensor"](ctx)
        if isinstance(result, dg.SkipReason):
            return [], result.skip_message
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return result.run_requests, None


def test_ticks_request_new_and_moved_tags_once(repo):
    with dg.DagsterInstance.ephemeral() as instance:
        ticker = Ticker(instance, repo)
        first, _ = ticker.tick()
        head = git(repo, "rev-parse", "HEAD")
        # the first tick runs only the newest RC; rc1 is recorded, not measured against today's build
        assert [(r.partition_key, r.run_key) for r in first] == [("v24.1.0-rc2", f"v24.1.0-rc2@{head}")]
        assert sorted(instance.get_dynamic_partitions(release_candidates.name)) == [
            "v24.1.0-rc1",
            "v24.1.0-rc2",
        ]

        second, skip = ticker.tick()
        assert second == [] and "no new or moved tags" in skip

        (repo / "a.txt").write_text("2")
        git(repo, "commit", "-qam", "two")
        git(repo, "tag", "v24.1.0-rc3")
        third, _ = ticker.tick()
        assert [r.partition_key for r in third] == ["v24.1.0-rc3"]

        git(repo, "tag", "-f", "v24.1.0-rc1")  # moved to the new commit
        fourth, _ = ticker.tick()
        new_head = git(repo, "rev-parse", "HEAD")
        assert [(r.partition_key, r.run_key) for r in fourth] == [("v24.1.0-rc1", f"v24.1.0-rc1@{new_head}")]

        # the cursor is the state: a fresh ticker given the same cursor (a restart) requests nothing
        restarted = Ticker(instance, repo)
        restarted.cursor = ticker.cursor
        assert restarted.tick()[0] == []


def test_the_first_tick_runs_only_the_newest_of_many_existing_tags(repo):
    for tag in ("v24.1.0-rc10", "v24.1.0-rc9", "v23.9.0-rc4"):
        git(repo, "tag", tag)
    with dg.DagsterInstance.ephemeral() as instance:
        ticker = Ticker(instance, repo)
        first, _ = ticker.tick()
        assert [r.partition_key for r in first] == ["v24.1.0-rc10"]  # semantic order: rc10 > rc9
        assert set(json.loads(ticker.cursor)) == {
            "v24.1.0-rc1",
            "v24.1.0-rc2",
            "v24.1.0-rc9",
            "v24.1.0-rc10",
            "v23.9.0-rc4",
        }
        assert ticker.tick()[0] == []  # the older tags are never run later either


def test_the_sensor_watches_only_the_tags_its_git_resource_pattern_names(repo):
    with dg.DagsterInstance.ephemeral() as instance:
        requests, _ = Ticker(instance, repo, tag_pattern="v*-rc2").tick()
    assert [r.partition_key for r in requests] == ["v24.1.0-rc2"]


def test_without_a_repository_the_sensor_skips_saying_what_to_set():
    with dg.DagsterInstance.ephemeral() as instance:
        requests, skip = Ticker(instance, "").tick()
    assert requests == [] and "VP_GIT_REPO is not set" in skip


def test_unreachable_repository_skips_with_the_cause(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        requests, skip = Ticker(instance, tmp_path / "no-such-repo").tick()
    assert requests == []
    assert "cannot list tags of" in skip and "no-such-repo" in skip
    assert "fatal:" in skip


def test_nightly_reverifies_the_newest_rc_in_semantic_order():
    # Each context is closed (`with`): an open one keeps the instance it opened as Dagster's
    # current definitions-state storage after the test, and a later definitions load fails on it.
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance) as ctx:
            assert isinstance(nightly_reverification(ctx), dg.SkipReason)
        instance.add_dynamic_partitions(
            release_candidates.name, ["v24.1.0-rc9", "v24.1.0-rc10", "v24.1.0-rc2"]
        )
        with dg.build_schedule_context(instance=instance) as ctx:
            request = nightly_reverification(ctx)
        assert request.partition_key == "v24.1.0-rc10"


def test_ci_uploads_under_incoming_start_one_import_run_per_complete_rc(s3_stack, tmp_path):
    from verification_pipeline.defs.storage.resources import S3Resource

    settings = s3_stack.settings
    s3 = S3Resource(
        endpoint_url=settings.endpoint_url,
        region=settings.region,
        access_key_id=settings.access_key_id,
        secret_access_key=settings.secret_access_key,
        bucket=settings.bucket,
        prefix=f"incoming-test-{tmp_path.name}",
    )
    store = s3.store()
    store.put_bytes(store.key("incoming", "v24.1.0-rc1", "slo", "read.json"), b"{}")
    store.put_bytes(store.key("incoming", "v24.1.0-rc1", "policy", "opa_report.json"), b"{}")
    store.put_bytes(
        store.key("incoming", "v24.1.0-rc2", "slo", "read.json"), b"{}"
    )  # incomplete: no write.json
    store.put_bytes(store.key("incoming", "notes", "slo", "read.json"), b"{}")  # not an RC

    with dg.instance_for_test() as instance:
        cursor = None

        def tick():
            nonlocal cursor
            with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"s3": s3}) as ctx:
                result = SENSORS["incoming_artifacts_sensor"](ctx)
            if isinstance(result, dg.SkipReason):
                return []
            cursor = result.cursor
            for request in result.dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            return result.run_requests

        assert tick() == []  # nothing complete yet
        store.put_bytes(store.key("incoming", "v24.1.0-rc1", "slo", "write.json"), b"{}")
        (request,) = tick()
        assert request.partition_key == "v24.1.0-rc1" and request.tags["vp/trigger"] == "incoming"
        ops = request.run_config["ops"]
        load = ops[LOAD_ASSET]["ops"][PLAN_OP]["config"]
        assert load["source"] == "import"
        assert load["read_files"] == [store.uri(store.key("incoming", "v24.1.0-rc1", "slo", "read.json"))]
        assert ops["policy_report"]["config"]["path"].endswith("/incoming/v24.1.0-rc1/policy/opa_report.json")
        assert "fanout_latencies" not in ops  # no fanout.json uploaded: measured as usual
        assert "v24.1.0-rc1" in instance.get_dynamic_partitions(release_candidates.name)
        assert tick() == []  # same upload: no second run
        store.put_bytes(store.key("incoming", "v24.1.0-rc1", "slo", "fanout.json"), b"{}")
        (again,) = tick()  # a new artifact for the RC: imported again
        assert again.run_config["ops"]["fanout_latencies"]["config"]["source"] == "import"
