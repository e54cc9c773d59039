"""The production job, reconstructable in the run's step processes.

The multiprocess executor starts each step in a fresh Python process that imports the code
location again (as a run worker or a k8s step pod would), so the job must be reachable from a
module-level function rather than passed as an object.
"""

import dagster as dg


def verify_release_candidate() -> dg.JobDefinition:
    """`verify_release_candidate` exactly as `verification_pipeline.definitions` defines it."""
    import os

    from verification_pipeline.definitions import build_definitions

    return build_definitions(os.environ).resolve_job_def("verify_release_candidate")
