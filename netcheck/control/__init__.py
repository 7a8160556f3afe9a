"""The control vantage: a second opinion from outside the network under test (issue 7).

``server`` runs outside the agency and measures URLs through ``netcheck.measure.pipeline``
(``measure`` is the thin adapter) behind abuse guards (``limits``); ``client`` asks it from the
probe. Judging both sides' evidence is pure and lives with the classifier
(``netcheck.classify.control``), which imports nothing from here.
"""
