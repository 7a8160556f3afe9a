"""Free ports on loopback: the kernel picks one, the socket closes, nothing listens there.

In: an address and a socket type (TCP by default, UDP for DNS and QUIC peers). Out: the port
number. A test either starts its own server there (the collector, squid, an SMTP server) or
counts on nothing answering (a refused connection, an ICMP port unreachable).
"""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
