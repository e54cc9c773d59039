"""Measurement health: whether each phase's client measured the service or its own saturation."""
