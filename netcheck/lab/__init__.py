"""The netcheck lab: a simulated agency network of real components in network namespaces.

``topology`` wires the namespaces, ``sites`` derives the fake internet from the catalogue and
``internet`` serves it (nginx, resolvers, the control vantage), ``pki`` makes the CAs, one module
per component renders its config (``unbound``, ``nft``, ``haproxy``, ``squid``, ``nginx``,
``shaping``, ``dnsinject``, ``wsecho``, ``browserpages``), ``accounts`` and ``kdc`` are the
agency's directory (a staff user, a real MIT Kerberos realm for the authenticating proxy),
``daemons`` runs them, ``lifecycle`` brings the lab up, switches scenarios (``scenarios`` +
``scenarios.yaml``) and tears it down, ``profile`` and ``runner`` run the real probe in the
client namespace, ``fleet`` runs real agents against a real collector. See docs/lab.md.
"""
