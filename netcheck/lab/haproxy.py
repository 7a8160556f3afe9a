"""The gateway's SNI filter as haproxy configuration.

In: the server names to reject. Out: ``haproxy.cfg`` text. haproxy listens where the nft redirect
sends forwarded TCP 443, waits for the ClientHello, rejects it when its SNI is listed (the reject
rule comes before the accept rule, or the accept would win), and otherwise relays the bytes to the
address the client originally dialled (``server ... 0.0.0.0:443`` uses the pre-redirect
destination, read from netfilter).
"""

from __future__ import annotations

from pathlib import Path

from netcheck.lab import topology


def render(reject_names: list[str], directory: Path) -> str:
    lines = [
        "# netcheck lab SNI filter (namespace nclab-gateway)",
        "global",
        "    log stderr format raw local0 info",
        "    maxconn 2000",
        f"    pidfile {directory / 'haproxy.pid'}",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
        "frontend sni_filter",
        f"    bind {topology.GW_INSIDE_IP}:{topology.SNI_PORT}",
        "    tcp-request inspect-delay 5s",
    ]
    if reject_names:
        names = " ".join(sorted(reject_names))
        lines.append(f"    tcp-request content reject if {{ req.ssl_sni -i {names} }}")
    lines += [
        "    tcp-request content accept if { req.ssl_hello_type 1 }",
        "    default_backend origin",
        "backend origin",
        "    server origin 0.0.0.0:443",
    ]
    return "\n".join(lines) + "\n"
