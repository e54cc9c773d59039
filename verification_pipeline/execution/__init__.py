"""Run-time tooling around the Dagster definitions: run a job in process and watch it, time its steps, and
the fork server's preload. Not Dagster definitions (those are `defs/`)."""
