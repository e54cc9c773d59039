"""The Dagster-facing layer: it wires config, resources and storage around the plain modules."""
