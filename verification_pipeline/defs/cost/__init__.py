"""Cost per request: the service's resource figures read around each load phase, and their gate."""
