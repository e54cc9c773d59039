"""The overload phase: one tenant past its declared limit after the SLO load, and its five gates."""
