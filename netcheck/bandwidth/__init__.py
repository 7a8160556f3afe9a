"""Bandwidth: goodput estimation, speed runs, throttling detection."""
