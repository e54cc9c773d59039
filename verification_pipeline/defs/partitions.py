"""One partition per release candidate tag, added by the sensor or by a person."""

import dagster as dg

release_candidates = dg.DynamicPartitionsDefinition(name="release_candidates")
