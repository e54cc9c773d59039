"""The embedded stack: SeaweedFS (S3) and the reference target, on loopback, for demos and tests."""
