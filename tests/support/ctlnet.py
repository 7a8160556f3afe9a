"""A three-namespace path for diagnose tests: client -> gateway (router) -> server.

    ncctl-<pid>-<n>-c        ncctl-<pid>-<n>-g                    ncctl-<pid>-<n>-s
    198.19.200.2 --veth-- 198.19.200.1 | 198.19.201.1 --veth-- 198.19.201.2
    (diagnose runs here)  forwards; nft rules; DNS injector   TCP 80/443 + DNS :53

Only veths between the three namespaces: nothing reaches the host's network. ``CtlNet`` sets it
up and tears it down (namespaces and the veths inside them go with ``ip netns del``); its
methods switch the gateway's behaviour: ``reset()`` (nft ``reject with tcp reset`` for
server:443: the gateway answers the SYN with a reset that claims to come from the server),
``drop()`` (a black hole for server:443), ``inject(name, answer)`` (a scapy injector on the
gateway answers DNS queries for ``name`` before the real resolver can). Needs root.

Run as a module for the helpers that live inside a namespace:
``python -m tests.support.ctlnet peer`` (server side) and
``python -m tests.support.ctlnet inject IFACE NAME IP``.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from tests.support.netns import require_root
from tests.support.paths import ROOT as REPO

CLIENT_IP, GW_IN_IP, GW_OUT_IP, SERVER_IP = (
    "198.19.200.2",
    "198.19.200.1",
    "198.19.201.1",
    ("198.19.201.2"),
)
ROOT = str(REPO)
_counter = itertools.count()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class CtlNet:
    def __init__(self) -> None:
        require_root("diagnose tests", "network namespaces, raw sockets", ("ip", "nft"))
        n = next(_counter)
        tag = f"{os.getpid() % 100000}{n}"
        self.client, self.gateway, self.server = (f"ncctl-{tag}-{x}" for x in "cgs")
        self.gw_in = f"ncctl{tag}gi"
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> CtlNet:
        try:
            self._build()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _build(self) -> None:
        c, g, s = self.client, self.gateway, self.server
        for ns in (c, g, s):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        tag = self.gw_in[len("ncctl") : -2]
        links = [(f"ncctl{tag}c0", c, CLIENT_IP, self.gw_in, GW_IN_IP)]
        links.append((f"ncctl{tag}go", g, GW_OUT_IP, f"ncctl{tag}s0", SERVER_IP))
        for a_if, a_ns, a_ip, b_if, b_ip in links:
            b_ns = g if a_ns == c else s
            _ip("-n", a_ns, "link", "add", a_if, "type", "veth", "peer", b_if, "netns", b_ns)
            _ip("-n", a_ns, "addr", "add", f"{a_ip}/24", "dev", a_if)
            _ip("-n", b_ns, "addr", "add", f"{b_ip}/24", "dev", b_if)
            _ip("-n", a_ns, "link", "set", a_if, "up")
            _ip("-n", b_ns, "link", "set", b_if, "up")
        _ip("-n", c, "route", "add", "198.19.201.0/24", "via", GW_IN_IP)
        _ip("-n", s, "route", "add", "198.19.200.0/24", "via", GW_OUT_IP)
        self.run(g, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self.spawn(s, [sys.executable, "-m", "tests.support.ctlnet", "peer"])

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for ns in (self.client, self.gateway, self.server):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    def diagnose(self, url: str, *args: str, prefix: Sequence[str] = ()) -> dict[str, Any]:
        """The JSON of ``netcheck diagnose URL`` run in the client namespace (4 hops, 1 s
        timeout, then ``args``); ``prefix`` wraps the command (e.g. ``capsh`` dropping rights)."""
        argv = [*prefix, sys.executable, "-m", "netcheck", "diagnose", url, "--json"]
        done = self.run(self.client, [*argv, "--max-hops", "4", "--timeout", "1", *args])
        assert done.returncode == 0, done.stderr
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def run(self, ns: str, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
            **kw,  # type: ignore[call-overload]
        )

    def spawn(self, ns: str, argv: list[str]) -> None:
        """Start a helper in ``ns`` and wait for its "ready" line."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self._procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{argv} did not start: {line!r}")

    def nft(self, rule: str) -> None:
        script = (
            "table inet ncctl {\n chain ncfwd {\n  type filter hook forward priority 0;\n"
            f"  ip daddr {SERVER_IP} tcp dport 443 {rule}\n }}\n}}\n"
        )
        done = self.run(self.gateway, ["nft", "-f", "-"], input=script)
        assert done.returncode == 0, done.stderr

    def reset(self) -> None:
        self.nft("reject with tcp reset")

    def drop(self) -> None:
        self.nft("drop")

    def inject(self, name: str, answer: str) -> None:
        # the lab's own injector, run on this test path's gateway
        argv = [sys.executable, "-m", "netcheck.lab.dnsinject", "inject", self.gw_in, name, answer]
        self.spawn(self.gateway, argv)


# --- helpers that run inside a namespace --------------------------------------------------------


def _peer() -> None:
    """TCP 80 and 443 (answer, close) and a resolver on :53 answering every A with SERVER_IP."""
    import dns.message
    import dns.rrset

    def tcp(port: int) -> None:
        srv = socket.create_server((SERVER_IP, port))
        while True:
            conn, _ = srv.accept()
            conn.settimeout(1)
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except OSError:
                pass
            conn.close()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((SERVER_IP, 53))
    for port in (80, 443):
        threading.Thread(target=tcp, args=(port,), daemon=True).start()
    print("ready", flush=True)
    while True:
        data, addr = udp.recvfrom(4096)
        try:
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            name = query.question[0].name
            reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", SERVER_IP))
            udp.sendto(reply.to_wire(), addr)
        except Exception:  # noqa: BLE001 - a test peer drops what it cannot answer
            continue


if __name__ == "__main__":
    if sys.argv[1] == "peer":
        _peer()
