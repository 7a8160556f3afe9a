"""The measure stage: the only code that sends packets.

``pipeline`` is the one DNS -> TCP (QUIC beside it) -> TLS -> HTTP pipeline for a URL, with the
stages in ``dns``, ``tcp``, ``tls``, ``http`` (``body`` reads and caps the body) and ``quic``;
``steplog`` keeps every step as it ends; ``probe`` runs many targets through it and classifies
them. Around it: ``proxy`` (explicit, environment and PAC routing), ``proxyauth`` (answering a
407), ``trust`` (public and local anchors), ``probeid``, and ``errmap``, the one place an
exception becomes a failure string. The control vantage measures through ``pipeline`` too.
"""
