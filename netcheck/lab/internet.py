"""The fake internet outside the agency: its files and the daemons that serve them.

In: the lab's state dir, its PKI, the site plan (``sites.plan``) and the edge addresses some
scenarios use. Out: every site's pages and nginx's config (``write_web``, ``nginx_text`` per
scenario: a ``narrow_certs`` scenario serves some hosts with a narrow certificate), the
internet's resolvers (``write_resolvers``: the upstream, a lame one for SERVFAIL, the control
vantage's own view), and ``start``: nginx, the three resolvers and ``netcheck control serve``
running in ``nclab-internet``, each waited for until it listens.
"""

from __future__ import annotations

import sys
from pathlib import Path

from netcheck.lab import browserpages, daemons, nginx, sites, topology
from netcheck.lab import unbound as unboundconf
from netcheck.lab.pki import Pki

#: where ``Lab._restart`` keeps the config text each restartable daemon runs
RUNNING = "running"
#: the websocket endpoint nginx proxies every site's ``/__lab/ws`` to
WSECHO = "wsecho"


def write_web(state: Path, pki: Pki, plan: list[sites.Site], edges: dict[str, str]) -> None:
    """Every site's pages and nginx's first config (no scenario's narrow certificates)."""
    nginx.write_pages(plan, state / "www")
    browserpages.write(plan, state / "www")  # browser mode's channel and console (issue 16)
    web = state / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (web / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    (web / "nginx.conf").write_text(nginx_text(state, pki, plan, edges, []))


def nginx_text(
    state: Path, pki: Pki, plan: list[sites.Site], edges: dict[str, str], narrow: list[str]
) -> str:
    www = state / "www"
    return nginx.render(plan, pki, state / "nginx", www, www / "large.bin", edges, narrow)


def write_resolvers(state: Path, plan: list[sites.Site], edges: dict[str, str]) -> None:
    """The internet's resolvers: the upstream one, a lame one, and the control's own."""
    dns_dir = state / "dns"
    dns_dir.mkdir(exist_ok=True)
    upstream = unboundconf.render_upstream(sites.dns_records(plan), dns_dir)
    (dns_dir / "upstream.conf").write_text(upstream)
    (dns_dir / "lame.conf").write_text(unboundconf.render_lame(dns_dir))
    # the control's own resolver: the same names, but the geo hosts at their edge address
    outside = {**sites.dns_records(plan), **edges}
    (dns_dir / "control.conf").write_text(
        unboundconf.render_upstream(
            outside, dns_dir, topology.CONTROL_DNS_IP, "unbound-control.pid"
        )
    )


def control_argv(control_token: Path, public_ca: Path) -> list[str]:
    """``netcheck control serve`` outside the agency: it resolves through its own view and
    reaches the fake internet directly, never through the gateway."""
    return [
        sys.executable,
        "-m",
        "netcheck",
        "control",
        "serve",
        "--bind",
        f"{topology.CONTROL_IP}:{topology.CONTROL_PORT}",
        "--token-file",
        str(control_token),
        "--allow-dest",
        topology.LAB_NET,
        "--resolver",
        topology.CONTROL_DNS_IP,
        "--ca-bundle",
        str(public_ca),
        "--timeout",
        "3",
        # one lab client measures a whole catalogue at once: no pacing inside the lab
        "--rate",
        "100",
        "--burst",
        "500",
    ]


def start(runner: daemons.Daemons, state: Path, control_token: Path, public_ca: Path) -> None:
    """Start the daemons outside the agency and wait until each one listens."""
    dns_dir = state / "dns"
    internet: list[tuple[str, list[str], tuple[str, str, int]]] = [
        (
            "nginx",
            ["nginx", "-c", str(state / "nginx" / "nginx.conf")],
            ("tcp", topology.BULK_IP, 443),
        ),
        (
            "unbound-upstream",
            ["unbound", "-d", "-c", str(dns_dir / "upstream.conf")],
            ("udp", topology.UPSTREAM_DNS_IP, 53),
        ),
        (
            "unbound-lame",
            ["unbound", "-d", "-c", str(dns_dir / "lame.conf")],
            ("udp", unboundconf.LAME_DNS_IP, 53),
        ),
        (
            "unbound-control",
            ["unbound", "-d", "-c", str(dns_dir / "control.conf")],
            ("udp", topology.CONTROL_DNS_IP, 53),
        ),
        (
            "control",
            control_argv(control_token, public_ca),
            ("tcp", topology.CONTROL_IP, topology.CONTROL_PORT),
        ),
        (
            WSECHO,
            [
                sys.executable,
                "-m",
                "netcheck.lab.wsecho",
                browserpages.WS_HOST,
                str(browserpages.WS_PORT),
            ],
            ("tcp", browserpages.WS_HOST, browserpages.WS_PORT),
        ),
    ]
    # all start first, then each is waited for: they come up side by side
    for name, argv, _ in internet:
        runner.start(name, topology.INTERNET, argv)
    for name, _, listen in internet:
        daemons.ensure_listening(runner, name, topology.INTERNET, [listen])
    # nginx is restarted per scenario only when its text changes: this is the text it runs
    running = state / RUNNING
    running.mkdir(exist_ok=True)
    (running / "nginx").write_text((state / "nginx" / "nginx.conf").read_text())
