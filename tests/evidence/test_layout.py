"""One table of the bundle's files: the expected files, the lineage and CI's import names come from it."""

from verification_pipeline.defs.load.assets import LOAD_ASSET, PLAN_OP
from verification_pipeline.defs.release.sensors import REQUIRED_INCOMING, import_run_config
from verification_pipeline.evidence.layout import (
    BUNDLE_FILES,
    bundle_file,
    ci_imports,
    expected_files,
    k6_dashboard_name,
    producing_assets,
)


def test_the_expected_files_are_the_required_entries_with_the_version_filled_in():
    names = expected_files("v24.1")
    assert "release/PR_BODY_v24.1.md" in names and "raw/fanout.parquet" in names
    assert len(names) == len(set(names)) == sum(entry.required for entry in BUNDLE_FILES)


def test_every_file_is_derived_from_files_of_the_bundle_and_made_by_a_named_asset():
    paths = {entry.path for entry in BUNDLE_FILES}
    for entry in BUNDLE_FILES:
        assert set(entry.derived_from) <= paths, entry
        assert entry.asset in producing_assets()


def test_ci_uploads_need_read_and_write_and_import_into_the_assets_the_table_names():
    assert set(REQUIRED_INCOMING) == {"slo/read.json", "slo/write.json"}
    uris = {name: f"s3://ci/incoming/v24.1.0-rc1/{name}" for name in ci_imports()}
    ops = import_run_config(uris)["ops"]
    load = ops[LOAD_ASSET]["ops"][PLAN_OP]["config"]
    assert load == {
        "source": "import",
        "read_files": [uris["slo/read.json"]],
        "write_files": [uris["slo/write.json"]],
    }
    assert ops["sbom"]["config"] == {"source": "import", "path": uris["security/sbom.syft.json"]}
    assert ops["fanout_latencies"]["config"] == {"source": "import", "path": uris["slo/fanout.json"]}
    assert ops["vulnerability_report"]["config"] == {"path": uris["security/vulns.grype.json"]}
    assert ops["policy_report"]["config"] == {"path": uris["policy/opa_report.json"]}
    # no service to drive in an import run: the overload phase says NOT MEASURED instead of failing
    assert ops["overload_phase"]["config"] == {"source": "import"}


def test_the_report_is_required_and_k6_dashboards_are_optional_per_op_and_segment():
    assert "report/index.html" in expected_files("v24.1")
    assert not any(name.startswith("report/k6-") for name in expected_files("v24.1"))
    for role in ("read", "write"):
        for segment in (None, 0, 12):
            entry = bundle_file(k6_dashboard_name(role, segment), "v24.1")
            assert entry is not None and entry.asset == f"{role}_load_samples" and not entry.required
    # a name that only looks like a segment's is not a file of the bundle
    assert bundle_file("report/k6-dashboard-read-segment-x.html", "v24.1") is None
    assert bundle_file("report/k6-dashboard-read-segment-1.html.bak", "v24.1") is None
