"""The key that signs evidence bundles."""

from pathlib import Path

import dagster as dg

from verification_pipeline.evidence.keys import PUBLIC_KEY_FILE, SigningKey, resolve_signing_key


class SigningKeyResource(dg.ConfigurableResource):
    """A private key file (VP_EVIDENCE_SIGNING_KEY_FILE), else PEM in the environment variable
    `key_env`, read when a bundle is signed, else (embedded stack only) a dev key.

    The key material never becomes resource config: only a path and variable names do.
    """

    key_file: str = ""
    key_env: str = "VP_EVIDENCE_SIGNING_KEY"
    dev_key_dir: str = ""
    """The embedded stack's dev key directory (VP_EVIDENCE_DEV_KEY_DIR)."""

    def load(self) -> SigningKey:
        return resolve_signing_key(
            path=Path(self.key_file) if self.key_file else None,
            env_var=self.key_env,
            dev_key_dir=Path(self.dev_key_dir) if self.dev_key_dir else None,
        )

    def dev_public_key_path(self) -> Path | None:
        """Where the embedded stack keeps the dev key's public half (what `verify` needs), if it does."""
        return Path(self.dev_key_dir) / PUBLIC_KEY_FILE if self.dev_key_dir else None
