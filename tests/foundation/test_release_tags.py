import pytest

from verification_pipeline.errors import InputError
from verification_pipeline.release.tags import newest, parse_rc


def test_version_and_release_tag():
    rc = parse_rc("v24.1.0-rc1")
    assert (rc.version, rc.release_tag, rc.rc_number) == ("v24.1", "v24.1.0", 1)


def test_semantic_order():
    assert newest(["v24.1.0-rc9", "v24.1.0-rc10", "v24.1.0-rc2"]) == "v24.1.0-rc10"
    assert newest(["v24.9.0-rc3", "v24.10.0-rc1", "notes"]) == "v24.10.0-rc1"
    assert newest(["v1.0.0"]) is None


@pytest.mark.parametrize("tag", ["v24.1.0", "24.1.0-rc1", "v24.1-rc1", "v24.1.0-rc", "v24.1.0-rc1; rm -rf /"])
def test_not_an_rc(tag):
    with pytest.raises(InputError, match="not a release-candidate tag"):
        parse_rc(tag)
