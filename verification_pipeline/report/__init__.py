"""What a person looks at: the signed HTML report and the charts the Dagster UI shows.

Plain modules (no Dagster): they take the raw frames and the documents the pipeline already
signs (`slo/metrics.json`, the scan summary, `slo/baseline.json`) and return bytes or text,
so the `report` asset, the asset metadata and the tests draw the same figures.
"""
