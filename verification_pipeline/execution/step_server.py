"""What the fork server imports before it forks steps (`defs/executor.py`).

The code location, and what Dagster imports in every step process before the step runs: the
loaders that rebuild the job from its code pointer, and the instance's storage. Imported once
here, a forked step finds them in memory instead of importing ~400 modules again (sqlalchemy,
alembic and Dagster's storage among them), which took most of a step's start-up.

Some of these are Dagster internals: if an upgrade renames one, multiprocessing ignores the
failed preload and steps import everything again, slower but correct
(tests/pipeline/test_executor.py imports this module to catch it).
"""

import boto3

# The instance each step opens from its ref (the embedded one: SQLite, local step logs).
import dagster._core.instance.factory
import dagster._core.secrets.env_file
import dagster._core.storage.local_compute_log_manager
import dagster._core.storage.root
import dagster._core.storage.sqlite_storage  # noqa: F401
from dagster._core.definitions.reconstruct import ReconstructableRepository

import verification_pipeline.definitions

# Each step rebuilds its job from the module pointer; doing it once here imports what that needs
# and builds the repository, which the forked steps inherit.
ReconstructableRepository.for_module(verification_pipeline.definitions.__name__, "defs").get_definition()

# Steps that touch the store create an S3 client, and the first client of a boto3 session parses
# the S3 service model (JSON, megabytes). One client here, with placeholder credentials so nothing
# is looked up, leaves the model parsed in the default session the steps inherit. It opens no
# connection and starts no thread.
boto3.client("s3", region_name="us-east-1", aws_access_key_id="preload", aws_secret_access_key="preload")
