"""The lab's resolvers as unbound configuration text.

In: the site plan's name -> address records, a scenario's DNS policy, and file paths. Out: three
texts — the upstream resolver (in ``nclab-internet``: authoritative ``static`` data for every lab
name, NXDOMAIN for everything else, no recursion to any root), the gateway resolver (in
``nclab-gateway``: what the client asks; forwards to the upstream and applies the policy), and
the RPZ zone the gateway loads.

How each DNS technique is made, the way agency resolvers do it:

- NXDOMAIN: RPZ ``CNAME .``;  sinkhole: RPZ ``A 0.0.0.0``;  dropped query: RPZ ``CNAME rpz-drop.``
- REFUSED: unbound ``local-zone: ... always_refuse`` (RPZ has no REFUSED action)
- a late answer (behind the dns-injected scenario's forgery): a ``forward-zone`` to a relay in
  ``nclab-internet`` that answers after a delay with TTL 0 (``dnsinject.relay``)
- SERVFAIL: a ``forward-zone`` for the name whose only upstream refuses it (a second unbound in
  ``nclab-internet``, ``unbound-lame``, whose access-control refuses all). unbound treats an
  upstream's REFUSED as lame and answers SERVFAIL at once, like a broken or lamed forwarder.
"""

from __future__ import annotations

from pathlib import Path

from netcheck.lab import topology
from netcheck.lab.scenarios import DnsPolicy

RPZ_NAME = "rpz.nclab."
#: a second upstream address whose answers are all REFUSED, for the SERVFAIL technique
LAME_DNS_IP = "198.18.1.54"
SINKHOLE_IP = "0.0.0.0"


def _common(directory: Path, interface: str, pidfile: str) -> list[str]:
    return [
        "server:",
        f"    interface: {interface}",
        "    port: 53",
        "    do-ip4: yes",
        "    do-ip6: no",
        "    do-udp: yes",
        "    do-tcp: yes",
        "    do-daemonize: no",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{directory}"',
        f'    pidfile: "{directory / pidfile}"',
        "    use-syslog: no",
        '    logfile: ""',
        "    verbosity: 1",
        "    num-threads: 1",
        "    access-control: 0.0.0.0/0 refuse",
        f"    access-control: {topology.LAB_NET} allow",
        "    hide-identity: yes",
        "    hide-version: yes",
    ]


def _quote(name: str) -> str:
    return name.rstrip(".") + "."


def render_upstream(
    records: dict[str, str],
    directory: Path,
    interface: str = topology.UPSTREAM_DNS_IP,
    pidfile: str = "unbound-upstream.pid",
) -> str:
    """Static data for every lab name; also the control's own view (another interface)."""
    lines = _common(directory, interface, pidfile)
    lines += [
        "    module-config: iterator",
        # nothing is recursed: every lab name is local data, everything else is NXDOMAIN
        '    local-zone: "." static',
    ]
    for name, ip in sorted(records.items()):
        lines.append(f'    local-data: "{_quote(name)} 300 IN A {ip}"')
    return "\n".join(lines) + "\n"


def render_lame(directory: Path) -> str:
    """A second upstream that refuses every query: the lame forwarder behind SERVFAIL."""
    lines = _common(directory, LAME_DNS_IP, "unbound-lame.pid")
    lines = [line for line in lines if "access-control" not in line]
    lines += ["    module-config: iterator", "    access-control: 0.0.0.0/0 refuse"]
    return "\n".join(lines) + "\n"


def render_gateway(
    policy: DnsPolicy,
    directory: Path,
    rpz_zone: Path,
    slow: list[str] | None = None,
    local: dict[str, str] | None = None,
) -> str:
    """The client's resolver; names in ``slow`` are forwarded to the late-answering relay;
    ``local`` are the agency's own names (name -> address), answered forward and reverse."""
    lines = _common(directory, topology.GW_INSIDE_IP, "unbound-gateway.pid")
    lines += [
        '    module-config: "respip iterator"',
        "    do-not-query-localhost: no",
        "    qname-minimisation: no",
        "    prefetch: no",
        "    infra-host-ttl: 1",
    ]
    for name, ip in sorted((local or {}).items()):
        lines.append(f'    local-data: "{_quote(name)} 300 IN A {ip}"')
        lines.append(f'    local-data-ptr: "{ip} {_quote(name)}"')
    for name in policy.refuse:
        lines.append(f'    local-zone: "{_quote(name)}" always_refuse')
    lines += [
        "rpz:",
        f'    name: "{RPZ_NAME}"',
        f'    zonefile: "{rpz_zone}"',
        "    rpz-log: yes",
        '    rpz-log-name: "nclab-policy"',
    ]
    for name in policy.servfail:
        lines += [
            "forward-zone:",
            f'    name: "{_quote(name)}"',
            f"    forward-addr: {LAME_DNS_IP}",
        ]
    for name in slow or []:
        lines += [
            "forward-zone:",
            f'    name: "{_quote(name)}"',
            f"    forward-addr: {topology.SLOW_DNS_IP}",
        ]
    lines += ["forward-zone:", '    name: "."', f"    forward-addr: {topology.UPSTREAM_DNS_IP}"]
    return "\n".join(lines) + "\n"


def render_rpz(policy: DnsPolicy) -> str:
    lines = [
        "; netcheck lab RPZ policy zone (owner name = trigger, RDATA = action)",
        "$TTL 30",
        f"$ORIGIN {RPZ_NAME}",
        "@ IN SOA localhost. hostmaster.localhost. 1 3600 600 86400 30",
        "@ IN NS localhost.",
    ]
    actions = (
        (policy.nxdomain, "CNAME ."),
        (policy.sinkhole, f"A {SINKHOLE_IP}"),
        (policy.drop, "CNAME rpz-drop."),
    )
    for names, action in actions:
        for name in names:
            bare = name.rstrip(".")
            lines.append(f"{bare} {action}")
            lines.append(f"*.{bare} {action}")
    return "\n".join(lines) + "\n"
