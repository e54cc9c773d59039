"""Where release-candidate tags come from."""

import dagster as dg

from verification_pipeline.evidence.statements import COMMIT_FROM_CHECKOUT, COMMIT_FROM_TAG
from verification_pipeline.paths import project_root
from verification_pipeline.release.git import checkout_head, tag_commit


class GitRepoResource(dg.ConfigurableResource):
    """The service's git repository: a local path or a remote URL.

    Empty: the RC is not a git tag (the demo); its commit is then the HEAD of this checkout,
    which is what the embedded reference target serves, and the bundle says so.
    """

    repo: str = ""
    tag_pattern: str = "v*.*.*-rc*"

    def commit_of(self, tag: str) -> tuple[str, str]:
        """(commit, where it came from); a tag missing from a configured repository fails here."""
        if self.repo:
            return tag_commit(self.repo, tag), COMMIT_FROM_TAG
        return checkout_head(project_root()), COMMIT_FROM_CHECKOUT
