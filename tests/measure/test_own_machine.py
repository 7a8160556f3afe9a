"""A probe whose own machine is the problem accuses no one: ``inconclusive``, exit 0, one warning.

Each CLI case runs the real ``netcheck run`` under ``unshare -n`` (a fresh network namespace:
nothing can leave it), some with ``-m`` and a resolv.conf bind-mounted over /etc/resolv.conf in
that mount namespace only:

- (a) no interface up at all; (b) only ``lo`` up, no route; (c) resolv.conf naming a resolver
  with no route to it and one on this machine that is not running; (d) ``--resolver`` on
  loopback with nothing listening; (e) ``--proxy`` on loopback with nothing listening, and one
  with no route to it; (f) an address URL with no route to it.

Beside them, in a namespace whose only resolver is a real DNS server on its ``lo``: the system
resolver's ``dns_temporary_failure`` (glibc reaches nothing there) no longer reads as SERVFAIL,
while that reachable server's SERVFAIL and NXDOMAIN stay blocks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netcheck import failures
from netcheck.classify import classify
from netcheck.classify.network import OWN_SETUP
from netcheck.measure import dns
from netcheck.models import Steps, Target
from netcheck.netaddr import url_host
from tests.support.netns import isolated_netns
from tests.support.servers.dns import DnsServer

pytestmark = pytest.mark.root

HOST = "www.example.org"
WARNING = "netcheck: warning: every target is inconclusive because this machine's own network"


def run_in_netns(
    tmp_path: Path,
    *args: str,
    url: str = f"https://{HOST}/",
    lo_up: bool = True,
    resolv_conf: str | None = None,
) -> tuple[int, dict[str, Any], list[str]]:
    """``netcheck run`` on one target in a fresh network namespace: (exit code, the record,
    the stderr lines other than the results path)."""
    targets = tmp_path / "targets.yaml"
    targets.write_text(f'targets:\n  - {{url: "{url}", service: example, function: view}}\n')
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "netcheck", "run", "--no-catalogue", "--targets", str(targets)]
    argv += ["--out", str(out), "--timeout", "2", *args]
    setup = ["ip link set lo up"] if lo_up else []
    unshare = ["unshare", "-n"]
    if resolv_conf is not None:
        conf = tmp_path / "resolv.conf"
        conf.write_text(resolv_conf)
        setup.append(f"mount --bind {conf} /etc/resolv.conf")
        unshare.append("-m")  # the bind mount lives in this mount namespace only
    wrapper = ["sh", "-c", " && ".join([*setup, 'exec "$@"']), "sh"] if setup else []
    done = subprocess.run(
        [*unshare, "--", *wrapper, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode in (0, 1), done.stderr
    [line] = out.read_text().splitlines()
    before_path = done.stderr.partition("results:")[0]  # the path may wrap onto a second line
    notes = [x for x in before_path.splitlines() if x.strip()]
    return done.returncode, json.loads(line), notes


def assert_own_setup(code: int, record: dict[str, Any], notes: list[str], *words: str) -> None:
    assert (record["verdict"], record["technique"]) == ("inconclusive", None), record["evidence"]
    host = url_host(record["target"]["url"])
    assert record["evidence"].endswith(f"{OWN_SETUP} {host}."), record["evidence"]
    for word in words:
        assert word in record["evidence"], record["evidence"]
    assert code == 0
    assert len(notes) == 1, notes
    assert notes[0].startswith(WARNING), notes


NO_ROUTE_CONF = "nameserver 198.51.100.53\n"
DNS_NO_ROUTE = {failures.DNS_TEMPORARY, failures.NETWORK_UNREACHABLE}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...] = ()
    url: str = f"https://{HOST}/"
    lo_up: bool = True
    resolv_conf: str | None = NO_ROUTE_CONF
    #: the failures the DNS steps record (None: not checked)
    dns_failures: set[str] | None = None
    #: words the evidence must hold
    words: tuple[str, ...] = ()


CASES = {
    "a-no-interface-up": Case(
        lo_up=False,
        dns_failures=DNS_NO_ROUTE,
        words=(
            "This machine has no network route to the resolver 198.51.100.53:53",
            "the system resolver failed too (dns_temporary_failure)",
            f"nothing was measured for {HOST}",
        ),
    ),
    "b-only-loopback-up": Case(
        dns_failures=DNS_NO_ROUTE,
        words=("This machine has no network route to the resolver 198.51.100.53:53",),
    ),
    "c-resolv-conf-out-of-reach": Case(
        resolv_conf="nameserver 192.0.2.53\nnameserver 127.0.0.53\n",
        dns_failures=DNS_NO_ROUTE | {failures.CONNECTION_REFUSED},
        words=(
            "This machine has no network route to the resolver 192.0.2.53:53 (network_unreachable)",
            "nothing listens at the resolver 127.0.0.53:53 on this machine (connection_refused)",
        ),
    ),
    "d-resolver-flag-not-listening": Case(
        args=("--resolver", "127.0.0.1:5353"),
        dns_failures={failures.CONNECTION_REFUSED},  # only the resolver given is asked
        words=(
            "Nothing listens at the resolver 127.0.0.1:5353 on this machine (connection_refused)",
        ),
    ),
    "e-local-proxy-down": Case(
        args=("--proxy", "http://127.0.0.1:9"),
        words=(
            "Nothing listens at the proxy http://127.0.0.1:9 on this machine (connection_refused)",
        ),
    ),
    "e-no-route-to-proxy": Case(
        args=("--proxy", "http://198.51.100.9:3128"),
        words=("This machine has no network route to the proxy http://198.51.100.9:3128",),
    ),
    "f-no-route-to-address": Case(
        url="https://198.51.100.7/",
        dns_failures=set(),  # an address: nothing to resolve
        words=("This machine has no network route to 198.51.100.7 at 198.51.100.7:443",),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_own_machine_is_inconclusive_and_exits_0(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    code, record, notes = run_in_netns(
        tmp_path, *case.args, url=case.url, lo_up=case.lo_up, resolv_conf=case.resolv_conf
    )
    if case.dns_failures is not None:
        assert {d["failure"] for d in record["steps"]["dns"]} == case.dns_failures
    assert_own_setup(code, record, notes, *case.words)


def test_no_interface_up_with_this_machines_own_resolv_conf(tmp_path: Path) -> None:
    # whatever resolvers the host names, none can be reached from an empty namespace
    if not dns.system_nameservers():
        pytest.skip("this machine's resolv.conf names no nameserver: only libc is asked")
    code, record, notes = run_in_netns(tmp_path, lo_up=False, resolv_conf=None)
    assert_own_setup(code, record, notes, "This machine has no network route to the resolver")


def test_libc_alone_failing_is_unclear_and_no_warning(tmp_path: Path) -> None:
    # no nameserver line: only getaddrinfo is asked, and its EAI_AGAIN does not say why
    code, record, notes = run_in_netns(tmp_path, resolv_conf="# nothing\n")
    assert [d["failure"] for d in record["steps"]["dns"]] == [failures.DNS_TEMPORARY]
    assert (record["verdict"], record["technique"], code) == ("inconclusive", None, 0)
    assert "cause unclear" in record["evidence"]
    assert OWN_SETUP not in record["evidence"]
    assert notes == []


# --- a reachable resolver still decides ---------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "technique"),
    [("servfail", "dns-servfail"), ("nxdomain", "dns-nxdomain"), ("drop", "dns-timeout")],
)
async def test_reachable_resolver_decides_beside_the_system_resolvers_failure(
    behaviour: str, technique: str
) -> None:
    """The resolver on the namespace's lo answers (or drops); glibc, pointed at the host's
    resolv.conf, reaches nothing there and says EAI_AGAIN: that no longer reads as SERVFAIL, and
    the answering resolver's own rcode names the technique."""
    name = "site.example.test"
    with isolated_netns():
        async with DnsServer({}, behaviours={name: behaviour}) as server:
            steps = await dns.measure_dns(
                name, resolvers=None, system_resolvers=[server.address], timeout=1.0,
                t0=time.monotonic(),
            )  # fmt: skip
    assert [s.failure for s in steps if s.engine == "system"] == [failures.DNS_TEMPORARY]
    found = classify(Target(url=f"https://{name}/", service="t", function="view"), Steps(dns=steps))
    assert (found.verdict, found.technique) == ("blocked", technique), found.evidence
    assert f"{server.address[0]}:{server.address[1]}" in found.evidence


async def test_resolver_not_running_beside_the_system_resolvers_failure() -> None:
    name = "site.example.test"
    with isolated_netns():
        steps = await dns.measure_dns(
            name, resolvers=None, system_resolvers=[("127.0.0.1", 5353)], timeout=1.0,
            t0=time.monotonic(),
        )  # fmt: skip
    assert {s.failure for s in steps} == {failures.DNS_TEMPORARY, failures.CONNECTION_REFUSED}
    found = classify(Target(url=f"https://{name}/", service="t", function="view"), Steps(dns=steps))
    assert (found.verdict, found.technique) == ("inconclusive", None)
    assert "Nothing listens at the resolver 127.0.0.1:5353 on this machine" in found.evidence
    assert OWN_SETUP in found.evidence
