"""Release-candidate verification as a Dagster code location."""
