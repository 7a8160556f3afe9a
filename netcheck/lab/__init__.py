"""The netcheck lab: a simulated agency network of real components in network namespaces.

``topology`` wires the namespaces, ``sites`` derives the fake internet from the catalogue,
``pki`` makes the CAs, one module per component renders its config (``unbound``, ``nft``,
``haproxy``, ``squid``, ``nginx``, ``shaping``), ``daemons`` runs them, ``lifecycle`` brings the
lab up, switches scenarios (``scenarios`` + ``scenarios.yaml``) and tears it down, ``profile``
and ``runner`` run the real probe in the client namespace. See the README section "The lab".
"""
