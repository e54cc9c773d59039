"""One partition per release candidate tag, added by the sensor or by a person."""

import dagster as dg

RELEASE_CANDIDATES = "release_candidates"  # the partition set's name, typed str (its .name is Optional)
release_candidates = dg.DynamicPartitionsDefinition(name=RELEASE_CANDIDATES)
