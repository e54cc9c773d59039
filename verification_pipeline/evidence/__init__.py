"""Signed evidence bundles: keys, DSSE envelopes, in-toto Statements, bundle layout, verify, audit.

Plain modules (no Dagster): the `evidence_bundle` asset, the command line and the tests all call
the same functions. The trust model is the auditor's: a bundle is checked with a public key the
auditor already holds, never with anything the bundle says about itself.
"""
