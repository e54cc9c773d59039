"""The production instance (infra/dagster.yaml) on a real PostgreSQL, with everything it points at.

`production_env` puts in os.environ what a production run worker gets from its deployment:
DAGSTER_HOME holding a copy of infra/dagster.yaml, the DAGSTER_PG_* variables of a fresh
database, the compute-log bucket and S3 endpoint (SeaweedFS from `s3_stack`; the production file
is used unchanged, its S3ComputeLogManager included), the pipeline's VP_S3_* variables with a
prefix of this test's own, and the loopback reference target with a token. The multiprocess
executor's step processes inherit this environment, as a run worker's steps would.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import pytest

from tests.plugins.postgres import PostgresDatabase
from verification_pipeline.storage.s3 import ObjectStore

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_INSTANCE_YAML = ROOT / "infra" / "dagster.yaml"
COMPUTE_LOG_BUCKET = "dagster-compute-logs"
COMPUTE_LOG_PREFIX = "dagster/compute-logs"  # as infra/dagster.yaml sets it


@dataclass(frozen=True)
class ProductionEnv:
    home: Path
    database: PostgresDatabase
    store: ObjectStore
    """The pipeline's bucket, with this test's prefix."""
    compute_logs: ObjectStore
    prefix: str


@pytest.fixture
def production_env(
    tmp_path: Path, postgres_db: PostgresDatabase, s3_stack, target, monkeypatch: pytest.MonkeyPatch
) -> ProductionEnv:
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(PRODUCTION_INSTANCE_YAML, home / "dagster.yaml")
    prefix = f"scale-{secrets.token_hex(4)}"
    env = {
        **s3_stack.env,
        **postgres_db.env(),
        "DAGSTER_HOME": str(home),
        "DAGSTER_COMPUTE_LOG_BUCKET": COMPUTE_LOG_BUCKET,
        "AWS_ACCESS_KEY_ID": s3_stack.settings.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_stack.settings.secret_access_key,
        "VP_S3_PREFIX": prefix,
        "VP_TARGET_GRAPHQL_URL": target.graphql_url,
        "VP_TARGET_JWT": target.token(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The stack was started without a target; its secret file would name a target that is not there.
    monkeypatch.delenv("VP_TARGET_JWT_SECRET_FILE", raising=False)
    monkeypatch.delenv("VP_GIT_REPO", raising=False)

    compute_logs = ObjectStore(s3_stack.settings, bucket=COMPUTE_LOG_BUCKET)
    # Step logs are rewritten while a step runs (upload_interval), so no Object Lock here.
    compute_logs.ensure_bucket(object_lock=False)
    store = ObjectStore(replace(s3_stack.settings, prefix=prefix))
    return ProductionEnv(home, postgres_db, store, compute_logs, prefix)


@pytest.fixture
def production_instance(production_env: ProductionEnv) -> Iterator[dg.DagsterInstance]:
    """The instance Dagster builds from $DAGSTER_HOME/dagster.yaml, as `dagster` commands would."""
    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()
