"""The overload phase: one tenant driven past its declared rate limit, a neighbour beside it, then recovery."""
