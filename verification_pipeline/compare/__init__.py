"""This RC against the previous verified RC: the statistics (`stats`), the signed document
`slo/baseline.json` (`document`), and where the baseline comes from (`baseline`). No Dagster here."""
