"""The fleet: what a probe sends the collector, how it is signed, and how an auditor checks it.

``evidence`` defines the batch (a signed header listing the SHA-256 of each record's canonical
JSON, chained to the probe's previous batch) and the Ed25519 keys; ``verify`` checks a collector's
data folder or an exported file offline. The collector (``netcheck.server``) and the agent
(``netcheck.agent``) both speak it.
"""
