"""The key that signs evidence bundles."""

import os
from pathlib import Path

import dagster as dg

from verification_pipeline.evidence.keys import PUBLIC_KEY_FILE, SigningKey, resolve_signing_key


class SigningKeyResource(dg.ConfigurableResource):
    """A private key file, else PEM in the environment variable `key_env`, else (embedded stack only) a dev key.

    The key material never becomes resource config: only a path and variable names do.
    """

    key_file: str = ""
    key_env: str = "VP_EVIDENCE_SIGNING_KEY"
    dev_key_dir: str = ""

    def load(self) -> SigningKey:
        key_file = self.key_file or os.environ.get("VP_EVIDENCE_SIGNING_KEY_FILE", "")
        dev_dir = self.dev_key_dir or os.environ.get("VP_EVIDENCE_DEV_KEY_DIR", "")
        return resolve_signing_key(
            path=Path(key_file) if key_file else None,
            env_var=self.key_env,
            dev_key_dir=Path(dev_dir) if dev_dir else None,
        )

    def dev_public_key_path(self) -> Path | None:
        """Where the embedded stack keeps the dev key's public half (what `verify` needs), if it does."""
        dev_dir = self.dev_key_dir or os.environ.get("VP_EVIDENCE_DEV_KEY_DIR", "")
        return Path(dev_dir) / PUBLIC_KEY_FILE if dev_dir else None
