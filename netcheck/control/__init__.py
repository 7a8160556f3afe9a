"""The control vantage: a second opinion from outside the network under test (issue 7).

``server`` runs outside the agency and measures URLs with the probe's own stage code behind
abuse guards (``limits``, ``measure``); ``client`` asks it from the probe; ``compare`` and
``judge`` are pure and turn both sides' evidence into a reviewed verdict. Importing this package
imports nothing heavy: the classifier pulls in ``judge`` only.
"""
