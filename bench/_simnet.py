"""A simulated network on loopback for the benches, in a network namespace of the bench's own.

In: a spec (JSON) naming the DNS zone and what listens where. Out: one child process serving
it, and ``in_own_netns`` to re-run a bench inside a fresh namespace (``unshare --net``, root)
so ports 53/80/443 are free, nothing leaves 127.0.0.0/8 and ``/proc/net/dev`` counts only the
bench's own bytes (``loopback_bytes``). The servers run in a child process so the probe's
process (its time, its RSS) is measured alone.

Spec::

    {"folder": DIR,                      # TlsLab's CA goes to DIR/public-ca.pem (--ca-bundle)
     "zone": {name: [ip, ...]},          # the DNS test server's zone (every other name: NXDOMAIN)
     "site_ip": "127.0.0.1",             # HTTPS :443 and HTTP :80, one certificate per group
     "certs": {group: [name, ...]},      #   chosen by SNI (names may be wildcards)
     "hosts": {host: group},
     "pages": {"host/path": [title, body]},   # anything else: a plain 200 page
     "black_holes": [ip, ...],           # TCP 443 and 80 whose SYNs are dropped
     "udp_silent": [ip, ...]}            # UDP 443 read and never answered (QUIC dropped)

Addresses with nothing listening refuse connections (RST), as a reject rule does. DNS and the
web are served by a real unbound and nginx when installed (Debian ``unbound``, ``nginx``, as in
the lab), else by the Python test servers. The real ones matter on a loaded machine: a starved
Python DNS server drops queries, and the probe would rightly call that network broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.servers import http as hs  # noqa: E402
from tests.support.servers.dns import DnsServer  # noqa: E402
from tests.support.servers.quic import QuicServer  # noqa: E402
from tests.support.servers.tls import TlsLab  # noqa: E402

MARK = "NETCHECK_BENCH_NETNS"
#: daemons must not hold the bench's stdout open (a reader would wait for them forever)
_QUIET: dict[str, Any] = {
    "stdin": subprocess.DEVNULL,
    "stdout": subprocess.DEVNULL,
    "stderr": subprocess.DEVNULL,
}


def in_own_netns() -> None:
    """Re-run this process in a fresh network namespace (once), then bring loopback up."""
    if os.environ.get(MARK) != "1":
        if os.geteuid() != 0:
            sys.exit("this bench builds its own network namespace: run it as root")
        argv = ["unshare", "--net", sys.executable, *sys.argv]
        os.execvpe("unshare", argv, {**os.environ, MARK: "1"})
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)


def loopback_bytes() -> tuple[int, int]:
    """(bytes, packets) sent on ``lo`` in this namespace: every byte on the simulated wire."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            fields = counters.split()
            return int(fields[8]), int(fields[9])
    raise RuntimeError("no loopback interface")


@contextlib.contextmanager
def simulated(spec: dict[str, Any]) -> Iterator[int]:
    """Serve ``spec`` from a child process; yields the DNS server's port."""
    folder = Path(spec["folder"])
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, __file__, str(folder / "spec.json")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        if ready[:1] != ["ready"]:
            raise RuntimeError(f"simulated network did not start: {ready}")
        yield int(ready[1])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the servers (child process) ----------------------------------------------------------------


def _contexts(lab: TlsLab, spec: dict[str, Any]) -> ssl.SSLContext:
    by_group = {g: lab.good_context(*names) for g, names in spec["certs"].items()}
    hosts: dict[str, str] = spec["hosts"]
    default = next(iter(by_group.values()))

    def pick(obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        group = hosts.get((name or "").lower())
        if group is not None:
            obj.context = by_group[group]

    default.sni_callback = pick  # type: ignore[assignment]
    return default


def _html(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


def _nginx_conf(lab: TlsLab, spec: dict[str, Any], folder: Path) -> str:
    """One server block per host (its group's certificate, its pages), plus a default one."""
    certs = {}
    for group, names in spec["certs"].items():
        path = folder / f"cert-{len(certs)}.pem"
        lab.public_ca.issue_cert(*names).private_key_and_cert_chain_pem.write_to_path(str(path))
        certs[group] = path
    ip = spec["site_ip"]
    pages: dict[str, dict[str, list[str]]] = {}
    for where, page in spec.get("pages", {}).items():
        host, _, path = where.partition("/")
        pages.setdefault(host, {})["/" + path] = page

    def server(names: str, cert: Path, paths: dict[str, list[str]], default: str = "") -> str:
        lines = [f"server {{ listen {ip}:443 ssl{default}; listen {ip}:80{default};"]
        lines.append(f"  server_name {names}; ssl_certificate {cert}; ssl_certificate_key {cert};")
        for path, (title, body) in paths.items():
            lines.append(f"  location = {path} {{ return 200 '{_html(title, body)}'; }}")
        lines.append(f"  location / {{ return 200 '{_html('Welcome', 'a page')}'; }} }}")
        return "\n".join(lines)

    blocks = [server("_", next(iter(certs.values())), {}, " default_server")]
    blocks += [server(h, certs[g], pages.get(h, {})) for h, g in spec["hosts"].items()]
    return "\n".join(
        [
            f"daemon off; worker_processes 1; pid {folder}/nginx.pid;",
            f"error_log {folder}/nginx-error.log;",
            "events { worker_connections 8192; }",
            "http { access_log off; default_type text/html; keepalive_timeout 5;",
            "  server_names_hash_max_size 8192; server_names_hash_bucket_size 128;",
            *(f"  {d}_temp_path {folder}/{d};" for d in ("client_body", "proxy", "fastcgi")),
            *(f"  {d}_temp_path {folder}/{d};" for d in ("uwsgi", "scgi")),
            *blocks,
            "}",
        ]
    )


async def _nginx(lab: TlsLab, spec: dict[str, Any]) -> asyncio.subprocess.Process:
    folder = Path(spec["folder"])
    conf = folder / "nginx.conf"
    conf.write_text(_nginx_conf(lab, spec, folder), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        "nginx", "-p", str(folder), "-c", str(conf), "-e", str(folder / "nginx-error.log"), **_QUIET
    )
    for _ in range(200):  # until it listens
        try:
            _, writer = await asyncio.open_connection(spec["site_ip"], 443)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return proc
    raise RuntimeError((folder / "nginx-error.log").read_text(errors="replace")[-2000:])


async def _unbound(zone: dict[str, list[str]], folder: Path) -> asyncio.subprocess.Process:
    """unbound on 127.0.0.1:53 answering the zone from local-data (no recursion is needed)."""
    lines = [
        "server:",
        "  interface: 127.0.0.1", "  port: 53", "  do-ip6: no", "  num-threads: 1",
        "  do-daemonize: no", 'username: ""', 'chroot: ""', f'directory: "{folder}"',
        f'pidfile: "{folder}/unbound.pid"', "  use-syslog: no", "  verbosity: 0",
        "  access-control: 127.0.0.0/8 allow", "  so-rcvbuf: 4m", "  outgoing-range: 64",
    ]  # fmt: skip
    for name, ips in zone.items():
        kind = {True: "AAAA", False: "A"}
        lines += [f'  local-data: "{name}. 300 IN {kind[":" in ip]} {ip}"' for ip in ips]
    conf = folder / "unbound.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec("unbound", "-d", "-c", str(conf), **_QUIET)
    probe = next(iter(zone))
    for _ in range(200):  # until it answers
        try:
            await asyncio.wait_for(_ask(probe), 0.2)
        except (OSError, TimeoutError, dns.exception.DNSException):
            await asyncio.sleep(0.05)
            continue
        return proc
    proc.terminate()
    raise RuntimeError("unbound did not start")


async def _ask(name: str) -> None:
    query = dns.message.make_query(name, "A")
    await dns.asyncquery.udp(query, "127.0.0.1", port=53, timeout=0.2)


def _site(pages: dict[str, list[str]]) -> hs.Handler:
    async def handle(req: hs.Request, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        host = (req.header("host") or "").rsplit(":", 1)[0].lower()
        title, body = pages.get(host + req.path, ["Welcome", "a page"])
        await hs.page(_html(title, body), headers=[("Connection", "close")])(req, r, w)

    return handle


async def _serve(handler: hs.Handler, ip: str, port: int, ctx: ssl.SSLContext | None) -> Any:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                req = await hs.read_request(reader)
                if req is not None:
                    await handler(req, reader, writer)
        except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()

    return await asyncio.start_server(client, ip, port, ssl=ctx, backlog=1024)


def _black_hole(ip: str, port: int) -> list[socket.socket]:
    """A listener with backlog 0 that never accepts, its one queue slot taken: SYNs dropped."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ip, port))
    listener.listen(0)
    filler = socket.create_connection((ip, port), timeout=5)
    return [listener, filler]


async def _main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    lab = TlsLab(Path(spec["folder"]))
    handler = _site(spec.get("pages", {}))
    ip = spec["site_ip"]
    use_nginx = shutil.which("nginx") and not os.environ.get("SIMNET_PYTHON")
    nginx = await _nginx(lab, spec) if use_nginx else None
    servers = []
    if nginx is None:
        servers += [
            await _serve(handler, ip, 443, _contexts(lab, spec)),
            await _serve(handler, ip, 80, None),
        ]
    holes = [
        s for hole in spec.get("black_holes", []) for p in (443, 80) for s in _black_hole(hole, p)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for silent in spec.get("udp_silent", []):
            await stack.enter_async_context(QuicServer(silent, 443, mode="silent"))
        unbound = None
        if shutil.which("unbound") and not os.environ.get("SIMNET_PYTHON"):
            unbound = await _unbound(spec["zone"], Path(spec["folder"]))
            port = 53
        else:
            dns_server = DnsServer(spec["zone"], host="127.0.0.1")
            port = (await stack.enter_async_context(dns_server)).address[1]
        print(f"ready {port}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            for daemon in (nginx, unbound):
                if daemon is not None:
                    daemon.terminate()
                    await daemon.wait()
            for server in servers:
                server.close()
            for sock in holes:
                sock.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(sys.argv[1]))
