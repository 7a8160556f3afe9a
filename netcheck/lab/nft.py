"""The gateway's packet filter as an nftables ruleset.

In: a scenario's firewall rules and SNI filter, with host names already turned into addresses by
the caller. Out: the ruleset text ``nft -f`` loads in ``nclab-gateway`` (it starts with
``flush ruleset``, which only touches that namespace, so applying a scenario is atomic).

- reset: TCP to the listed addresses is answered with a reset (``reject with tcp reset``); the
  client's connect fails with "connection refused", as behind most agency firewalls.
- blackhole: every packet to the listed addresses is dropped; the client's connect times out.
- udp443: forwarded UDP 443 (QUIC) is dropped, so browsers fall back to TCP.
- SNI filter: forwarded TCP 443 from the client side is redirected to haproxy on the gateway,
  which reads the ClientHello and either rejects it or relays to the original destination.
"""

from __future__ import annotations

from netcheck.lab import topology


def _set(ips: list[str]) -> str:
    return "{ " + ", ".join(ips) + " }"


def render(reset_ips: list[str], blackhole_ips: list[str], udp443: bool, sni_filter: bool) -> str:
    forward = ["        type filter hook forward priority filter; policy accept;"]
    if reset_ips:
        forward.append(f"        ip daddr {_set(reset_ips)} meta l4proto tcp reject with tcp reset")
    if blackhole_ips:
        forward.append(f"        ip daddr {_set(blackhole_ips)} drop")
    if udp443:
        forward.append("        udp dport 443 drop")
    prerouting = ["        type nat hook prerouting priority dstnat; policy accept;"]
    if sni_filter:
        prerouting.append(
            f'        iifname "{topology.GW_IN_IF}" tcp dport 443 redirect to :{topology.SNI_PORT}'
        )
    lines = [
        "#!/usr/sbin/nft -f",
        "# netcheck lab gateway ruleset (namespace nclab-gateway)",
        "flush ruleset",
        "table ip nclab {",
        "    chain forward {",
        *forward,
        "    }",
        "    chain prerouting {",
        *prerouting,
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_origin(down_ips: list[str]) -> str:
    """The fake internet's own ruleset (``nclab-internet``): sites that are down at the origin.

    Every TCP connection to a down site's address is refused, whoever makes it — the client
    through the gateway and the control vantage next door alike (the input hook sees both:
    local connections loop back through it too). That is what "down everywhere" means.
    """
    lines = [
        "#!/usr/sbin/nft -f",
        "# netcheck lab origin ruleset (namespace nclab-internet)",
        "flush ruleset",
        "table ip nclab_origin {",
        "    chain input {",
        "        type filter hook input priority filter; policy accept;",
    ]
    if down_ips:
        lines.append(f"        ip daddr {_set(down_ips)} meta l4proto tcp reject with tcp reset")
    lines += ["    }", "}"]
    return "\n".join(lines) + "\n"
