"""Load samples: k6 scripts, running k6, reading its raw output, per-op summaries."""
