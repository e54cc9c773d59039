"""Subscription fan-out latency: many Socket.IO subscribers, every delivery accounted for.

`probe.run_probe` drives a live target; `accounting` turns what was published and received
into one row per (subscriber, event) outcome; `metrics` reduces those rows to the seed's
`fanout.json` shape plus the delivery figures; `seed_import` reads a `fanout.json` the seed's
Node script produced in CI. The package imports nothing heavy here so that subscriber worker
processes start quickly.
"""
