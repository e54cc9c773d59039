"""The one job's name: the code location defines it, the sensors, the schedule and the runner start it."""

JOB = "verify_release_candidate"
