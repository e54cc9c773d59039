"""Recompute a signed bundle's figures from its raw rows and compare them with what it signed (`audit`).

Above `evidence` (verification) and `compare` (the baseline comparison it reruns)."""
