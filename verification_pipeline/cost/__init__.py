"""Cost per request: the service's own resource figures read around each load phase, and their gate."""
