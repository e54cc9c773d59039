"""One table of the bundle's files: the expected files, the lineage and CI's import names come from it."""

from verification_pipeline.defs.load.assets import LOAD_ASSET, PLAN_OP
from verification_pipeline.defs.release.sensors import REQUIRED_INCOMING, import_run_config
from verification_pipeline.evidence.layout import BUNDLE_FILES, ci_imports, expected_files, producing_assets


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
