"""SLOs: the spec (`slos.yaml`), the statistics, and per-SLO figures with verdicts."""
