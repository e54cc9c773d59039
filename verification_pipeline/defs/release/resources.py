"""Where release-candidate tags come from."""

import dagster as dg

from verification_pipeline.release.git import tag_commit


class GitRepoResource(dg.ConfigurableResource):
    """The service's git repository: a local path or a remote URL. Empty: tags are taken as given."""

    repo: str = ""
    tag_pattern: str = "v*.*.*-rc*"

    def commit_of(self, tag: str) -> str | None:
        return tag_commit(self.repo, tag) if self.repo else None
