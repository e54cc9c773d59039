"""One Dagster UI (webserver + daemon) for the UI tests, deployed the way `make dev` deploys it.

`make dev` runs the UI with the stack's environment: the S3 store and the reference target. The
scan assets import CI reports named by VP_VULN_REPORT / VP_POLICY_REPORT; the tests use the
demo's copies, as `verification-pipeline demo` does. Load steps are kept short.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.webserver import DagsterUI, launch_dagster_ui

LOAD_DURATION = "5s"


@pytest.fixture(scope="session")
def dagster_ui(s3_stack, target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    from verification_pipeline.stack.control import DEMO_REPORTS

    base = tmp_path_factory.mktemp("dagster-ui")
    secret_file = base / "target-jwt.secret"
    secret_file.write_bytes(target.jwt_secret)
    secret_file.chmod(0o600)
    env = {
        **s3_stack.env,
        **DEMO_REPORTS,
        "VP_TARGET_GRAPHQL_URL": target.graphql_url,
        "VP_TARGET_JWT_SECRET_FILE": str(secret_file),
        "VP_LOAD_DURATION": LOAD_DURATION,
        # the overload phase shortened as the demo's (slos.yaml declares 30 s + 8 s)
        "VP_OVERLOAD_DURATION_S": "5",
        "VP_OVERLOAD_RECOVERY_S": "4",
    }
    with launch_dagster_ui(base, env) as ui:
        yield ui
