"""netcheck: measure what an agency network does to the services it says staff may use.

Data flows one way: targets -> measure (dns, tcp, tls, http) -> classify -> compare -> report.
"""

from __future__ import annotations

__version__ = "0.1.0"
