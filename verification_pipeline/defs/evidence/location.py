"""Where a run's bundle lives: `s3://<bucket>/<prefix>/<rc>/<run-id>/evidence/<version>/`."""

from verification_pipeline.defs.storage.resources import S3Resource
from verification_pipeline.evidence.layout import bundle_root
from verification_pipeline.evidence.statements import ReleaseCandidate


def bundle_uri_for(s3: S3Resource, release_candidate: ReleaseCandidate, run_id: str) -> str:
    store = s3.store()
    return store.uri(store.key(release_candidate.tag, run_id, bundle_root(release_candidate.version))) + "/"
