"""The lab's wiring: three network namespaces joined by two veth pairs, and the address plan.

In: nothing but root. Out: namespaces ``nclab-client``, ``nclab-gateway``, ``nclab-internet``;
helpers to run a command inside one (``ns_run``, ``ns_popen``) and to tear it all down.

    nclab-client            nclab-gateway                    nclab-internet
    198.18.0.2  ---veth---  198.18.0.1 | 198.18.1.1 ---veth---  198.18.1.2
    (the probe)             unbound :53, squid :3128,         upstream resolver 198.18.1.53
                            haproxy :8443, nftables, htb      sites 198.19.<service>.<n>
                                                              bulk 198.18.2.10, control 198.18.2.20
                                                              control resolver 198.18.1.56

Every route in every namespace covers 198.18.0.0/15 only: there is no default route and no link
to the host's namespace, so a lab process can reach nothing but the lab. Interface and namespace
names all start with ``nclab-`` so that ``down`` can find (and only find) what the lab made.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from netcheck.errors import NetcheckError, PrivilegeError

PREFIX = "nclab-"
CLIENT = PREFIX + "client"
GATEWAY = PREFIX + "gateway"
INTERNET = PREFIX + "internet"
NAMESPACES = (CLIENT, GATEWAY, INTERNET)

LAB_NET = "198.18.0.0/15"
CLIENT_IP = "198.18.0.2"
GW_INSIDE_IP = "198.18.0.1"  # what the client sees: resolver, proxy, router
GW_OUTSIDE_IP = "198.18.1.1"
INTERNET_IP = "198.18.1.2"
UPSTREAM_DNS_IP = "198.18.1.53"
BULK_IP = "198.18.2.10"  # the large-object endpoint
CONTROL_IP = "198.18.2.20"  # the control vantage (netcheck control serve)
CONTROL_PORT = 8080
CONTROL_DNS_IP = "198.18.1.56"  # the control's own resolver: the outside view of the names
SLOW_DNS_IP = "198.18.1.55"  # a relay to the upstream that answers late (dns-injected)
PROXY_PORT = 3128
SNI_PORT = 8443  # haproxy, fed by an nft redirect of forwarded :443

# veth ends: (name, namespace, address/prefix)
CLIENT_IF = PREFIX + "c0"
GW_IN_IF = PREFIX + "g0"
GW_OUT_IF = PREFIX + "g1"
INTERNET_IF = PREFIX + "i0"
_LINKS = (
    ((CLIENT_IF, CLIENT, f"{CLIENT_IP}/24"), (GW_IN_IF, GATEWAY, f"{GW_INSIDE_IP}/24")),
    ((GW_OUT_IF, GATEWAY, f"{GW_OUTSIDE_IP}/24"), (INTERNET_IF, INTERNET, f"{INTERNET_IP}/24")),
)
NETNS_ETC = Path("/etc/netns")


def site_ip(service_index: int, host_index: int) -> str:
    """Each service gets its own /24 so that shaping and firewall rules can pick one service."""
    if not (0 <= service_index < 250 and 0 <= host_index < 240):
        raise NetcheckError("lab address plan exhausted (250 services x 240 hosts)")
    return f"198.19.{service_index + 1}.{host_index + 10}"


def edge_ip(index: int) -> str:
    """A second address for a site (a CDN edge seen from elsewhere), outside every service /24."""
    if not 0 <= index < 240:
        raise NetcheckError("lab edge address plan exhausted (240 edges)")
    return f"198.18.3.{index + 10}"


def service_net(service_index: int) -> str:
    return f"198.19.{service_index + 1}.0/24"


def require_root() -> None:
    if os.geteuid() != 0:
        raise PrivilegeError(
            "the lab needs root (network namespaces, nftables, tc): run it with sudo"
        )


def run(argv: Sequence[str], *, check: bool = True, input_text: str | None = None) -> str:
    """Run a host command; a failure is a tool error naming the command and its stderr."""
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, input=input_text, timeout=60, check=False
    )
    if check and proc.returncode != 0:
        raise NetcheckError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def ns_argv(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def ns_run(
    ns: str, argv: Sequence[str], *, check: bool = True, input_text: str | None = None
) -> str:
    return run(ns_argv(ns, argv), check=check, input_text=input_text)


def existing_namespaces() -> list[str]:
    out = run(["ip", "-o", "netns", "list"], check=False)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [name for name in names if name.startswith(PREFIX)]


def is_up() -> bool:
    return set(NAMESPACES) <= set(existing_namespaces())


def create(site_ips: Sequence[str], resolv_conf: str) -> None:
    """Build namespaces, links, addresses and routes; the caller has torn down any leftover."""
    for ns in NAMESPACES:
        run(["ip", "netns", "add", ns])
        ns_run(ns, ["ip", "link", "set", "lo", "up"])
    for (a_if, a_ns, a_addr), (b_if, b_ns, b_addr) in _LINKS:
        # created inside a lab namespace so that no end ever exists in the host's namespace
        ns_run(a_ns, ["ip", "link", "add", a_if, "type", "veth", "peer", "name", b_if])
        ns_run(a_ns, ["ip", "link", "set", b_if, "netns", b_ns])
        for ifname, ns, addr in ((a_if, a_ns, a_addr), (b_if, b_ns, b_addr)):
            ns_run(ns, ["ip", "addr", "add", addr, "dev", ifname])
            ns_run(ns, ["ip", "link", "set", ifname, "up"])
    ns_run(CLIENT, ["ip", "route", "add", LAB_NET, "via", GW_INSIDE_IP])
    ns_run(GATEWAY, ["ip", "route", "add", LAB_NET, "via", INTERNET_IP])
    ns_run(INTERNET, ["ip", "route", "add", "198.18.0.0/24", "via", GW_OUTSIDE_IP])
    ns_run(GATEWAY, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    for ns in NAMESPACES:  # the lab is IPv4 only: no link-local v6 chatter, no v6 leak
        ns_run(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], check=False)
        # the lab's sites have no HTTP/3: a QUIC probe learns "open, nothing listening" from an
        # ICMP port unreachable, which the kernel would rate-limit per peer (one client, dozens
        # of targets at once) and turn into false "UDP 443 dropped" timeouts
        ns_run(ns, ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"], check=False)
    # every fake host's address lives on the internet namespace's loopback
    batch = [f"addr add {ip}/32 dev lo" for ip in (UPSTREAM_DNS_IP, BULK_IP, CONTROL_IP)]
    batch += [f"addr add {ip}/32 dev lo" for ip in site_ips]
    ns_run(INTERNET, ["ip", "-batch", "-"], input_text="\n".join(batch) + "\n")
    # `ip netns exec` bind-mounts this over /etc/resolv.conf: the system resolver in the client
    # (curl, blackbox-exporter) asks the lab's gateway, never the host's resolver
    etc = NETNS_ETC / CLIENT
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text(resolv_conf)
    (etc / "hosts").write_text("127.0.0.1 localhost\n")


def namespace_pids(ns: str) -> list[int]:
    out = run(["ip", "netns", "pids", ns], check=False)
    return [int(tok) for tok in out.split() if tok.isdigit()]


def destroy() -> None:
    """Delete every ``nclab-`` namespace (their veths go with them) and the resolv.conf mounts."""
    for ns in existing_namespaces():
        run(["ip", "netns", "del", ns], check=False)
    for ns in NAMESPACES:
        etc = NETNS_ETC / ns
        for name in ("resolv.conf", "hosts"):
            (etc / name).unlink(missing_ok=True)
        if etc.is_dir() and not any(etc.iterdir()):
            etc.rmdir()
