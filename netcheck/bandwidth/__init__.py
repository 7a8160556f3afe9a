"""Bandwidth: goodput estimation, speed runs, throttling detection.

``estimate`` is pure (time-stamped reads in, a goodput figure and a stop decision out);
``speed`` measures one download or upload, its name resolved by the DNS stage; ``throttle``
sets a service's goodput against a control endpoint's; ``run`` is ``run --bandwidth``.
"""
