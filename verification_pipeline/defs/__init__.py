"""The Dagster-facing layer: it wires config, resources and storage around the plain modules."""

import warnings

import dagster as dg

# Data versions from content digests (beta) and asset checks partitioned by RC (preview) are
# what make lineage and per-RC verdicts trustworthy in the UI; both are used on purpose, and
# their warnings would repeat on every load and materialization.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
