"""Where release-candidate tags come from."""

from pathlib import Path

import dagster as dg

from verification_pipeline.errors import ConfigError
from verification_pipeline.evidence.statements import COMMIT_FROM_CHECKOUT, COMMIT_FROM_TAG
from verification_pipeline.paths import project_root
from verification_pipeline.release.git import checkout_head, is_local_repo, tag_commit


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

    def local_path(self) -> Path:
        """Where `git show <commit>:<path>` can read the RC's files: the repository, or this checkout."""
        if not self.repo:
            return project_root()
        if not is_local_repo(self.repo):
            raise ConfigError(
                f"{self.repo} is not a local repository: the policy gate reads the RC's files with git show",
                field="VP_GIT_REPO",
                hint="point VP_GIT_REPO at a local clone, or import CI's report (VP_POLICY_REPORT)",
            )
        return Path(self.repo)
