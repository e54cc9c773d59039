"""The evidence tests' signed bundle and keys, for the command-line suites (pytest takes imported fixtures)."""

from tests.evidence.conftest import build_bundle, bundle, key_pair, signing_key  # noqa: F401
