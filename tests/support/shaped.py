"""A shaped link for bandwidth tests and the bench: two namespaces, a veth pair, tc, nginx.

    ncbw-cli-<pid>-<k>  eth0 198.19.k.2  <--veth-->  eth0 198.19.k.1 (service), .3 (control)
                                                    ncbw-srv-<pid>-<k>, nginx on :80

With ``delay_ms`` the link gets that RTT from ``bench/delay.py`` (a user-space AF_PACKET bridge;
this kernel has no netem) in a third namespace, on the client -> server direction only:

    ncbw-cli eth1 <-> ncbw-a [ncbw-dly: bridge, +delay_ms] ncbw-b <-> eth1 ncbw-srv

The client routes the server's addresses via eth1 (through the bridge), the server answers via
eth0 (direct): the data path of a download stays in the kernel and only SYNs, requests and ACKs
cross Python. ``delay_for="upload"`` turns it round (the server routes the client via the
bridge, the client sends direct), so an upload's data stays in the kernel and its ACKs are late.

The server side's egress carries the downloads: ``tbf`` at one rate (``shape``), or ``htb`` with
one class per server address (``shape_per_address``: a throttled service next to a control).
The client side's egress carries uploads (``shape_upload``). nginx serves ``/big.bin`` (a sparse
4 GiB file) and discards POST bodies at ``/upload``. The measurer runs in the client namespace as
a ``python`` subprocess (``measure``), so its sockets live there.

Root only. Everything is undone by ``close`` (also registered with atexit); the names carry the
pid and a random byte so that parallel runs do not collide, and never touch ``nclab-*``.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from netcheck.models import SpeedResult
from tests.support import netns
from tests.support.paths import ROOT

BIG_OBJECT = 4 * 1024**3
_NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 80 reuseport;
        root {d}/www;
        location = /upload {{ client_max_body_size 0; return 204; }}
    }}
}}
"""

_MEASURE = """\
import asyncio, json, sys
from netcheck.bandwidth import speed
args = json.loads(sys.argv[1])
fn = speed.measure_upload if args.pop("direction") == "upload" else speed.measure_download
print(asyncio.run(fn(**args)).model_dump_json())
"""


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:8])}... exited {proc.returncode}: {proc.stderr[-2000:]}"
        )
    return proc


def require_root() -> None:
    netns.require_root("shaped-link tests", "network namespaces, tc", ("tc", "ip"))


class ShapedLink:
    """Build with ``ShapedLink()``; use as a context manager or call ``close``."""

    def __init__(
        self, delay_ms: float = 0.0, delay_for: Literal["download", "upload"] = "download"
    ) -> None:
        require_root()
        self.delay_ms = delay_ms
        self.delay_for = delay_for
        self.k = random.randint(1, 254)
        tag = f"{os.getpid()}-{self.k}-{random.randint(0, 9999)}"
        self.srv = f"ncbw-srv-{tag}"
        self.cli = f"ncbw-cli-{tag}"
        self.dly = f"ncbw-dly-{tag}"
        self.srv_ip = f"198.19.{self.k}.1"
        self.control_ip = f"198.19.{self.k}.3"
        self.cli_ip = f"198.19.{self.k}.2"
        self.dir = Path(tempfile.mkdtemp(prefix="ncbw-"))
        self._procs: list[subprocess.Popen[bytes]] = []
        self._closed = False
        self._ifb = False
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    # --- lifecycle --------------------------------------------------------------------------

    def _build(self) -> None:
        _run("ip", "netns", "add", self.srv)
        _run("ip", "netns", "add", self.cli)
        _run(
            "ip", "link", "add", "eth0", "netns", self.srv, "type", "veth",
            "peer", "name", "eth0", "netns", self.cli,
        )  # fmt: skip
        for ns, addrs in ((self.srv, [self.srv_ip, self.control_ip]), (self.cli, [self.cli_ip])):
            for a in addrs:
                self.ns(ns, "ip", "addr", "add", f"{a}/24", "dev", "eth0")
            self.ns(ns, "ip", "link", "set", "lo", "up")
            self.ns(ns, "ip", "link", "set", "eth0", "up")
        www = self.dir / "www"
        www.mkdir()
        with open(www / "big.bin", "wb") as f:
            f.truncate(BIG_OBJECT)  # sparse: reads as zeros, costs no disk
        (self.dir / "nginx.conf").write_text(_NGINX_CONF.format(d=self.dir))
        self.spawn(self.srv, "nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir))
        self._wait_port(self.srv_ip, 80)
        for ns in (self.srv, self.cli):
            # room for a 150 ms x 500 Mbit/s window (9.4 MB): the default 6 MB cap would bind
            self.ns(ns, "sysctl", "-qw", "net.ipv4.tcp_rmem=4096 131072 33554432")
            self.ns(ns, "sysctl", "-qw", "net.ipv4.tcp_wmem=4096 65536 33554432")
        if self.delay_ms > 0:
            self._build_delay()

    def _build_delay(self) -> None:
        _run("ip", "netns", "add", self.dly)
        _run(
            "ip", "link", "add", "eth1", "netns", self.cli, "type", "veth",
            "peer", "name", "ncbw-a", "netns", self.dly,
        )  # fmt: skip
        _run(
            "ip", "link", "add", "eth1", "netns", self.srv, "type", "veth",
            "peer", "name", "ncbw-b", "netns", self.dly,
        )  # fmt: skip
        for ns, dev in (
            (self.cli, "eth1"),
            (self.srv, "eth1"),
            (self.dly, "ncbw-a"),
            (self.dly, "ncbw-b"),
        ):
            self.ns(ns, "ip", "link", "set", dev, "up")
        for ns in (self.cli, self.srv):
            # asymmetric routes: strict reverse-path filtering would drop every packet
            for key in ("all", "default", "eth0", "eth1"):
                self.ns(ns, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
        # the delayed direction carries the ACKs of the transfer being measured
        if self.delay_for == "download":
            for ip in (self.srv_ip, self.control_ip):
                self.ns(
                    self.cli, "ip", "route", "add", f"{ip}/32", "dev", "eth1", "src", self.cli_ip
                )
            late_first = ("ncbw-a", "ncbw-b")  # frames from the client side are held
        else:
            self.ns(self.srv, "ip", "route", "add", f"{self.cli_ip}/32", "dev", "eth1")
            late_first = ("ncbw-b", "ncbw-a")  # frames from the server side are held
        script = ROOT / "bench" / "delay.py"
        for ns, dev in ((self.cli, "eth1"), (self.srv, "eth1")):
            self.ns(ns, sys.executable, str(script), dev, "--offloads-off")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.dly, sys.executable, str(script), *late_first,
             "--delay-ms", str(self.delay_ms), "--one-way"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self._procs.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the delay element did not start")

    def _wait_port(self, ip: str, port: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # ss, not a probe connection: iperf3 -1 would take a probe for its one client
            listening = self.ns(self.srv, "ss", "-Hltn", f"sport = :{port}", check=False).stdout
            if ip in listening or f"*:{port}" in listening or f"0.0.0.0:{port}" in listening:
                return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listening on {ip}:{port} in {self.srv}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in self._procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        for ns in (self.cli, self.srv, self.dly):
            _run("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ShapedLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers ----------------------------------------------------------------------------

    def ns(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", ns, *cmd, check=check)

    def spawn(self, ns: str, *cmd: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        self._procs.append(proc)
        return proc

    @property
    def url(self) -> str:
        return f"http://{self.srv_ip}/big.bin"

    @property
    def control_url(self) -> str:
        return f"http://{self.control_ip}/big.bin"

    @property
    def upload_url(self) -> str:
        return f"http://{self.srv_ip}/upload"

    # --- shaping ----------------------------------------------------------------------------

    def _tbf(self, rate_mbit: float) -> list[str]:
        # burst: 4 ms of tokens (a 250 Hz kernel tick) and at least four full frames: below
        # 12 Mbit/s a paced sender hands tbf 2-segment GSO packets (3028 B), and a bucket of
        # exactly one packet throws away the tokens that arrive while a dequeue runs late, so
        # every packet left ~1% late and the 5 Mbit/s 50 ms link carried 0.97 of its rate
        # (packet spacing 2.021 frame times, not 2.000; no drops); four frames leave two of
        # slack. Queue: 100 ms, or two RTTs on a delayed link (a bottleneck buffer of at least
        # one BDP, so the ceiling is reachable by CUBIC as well as BBR)
        burst = max(int(rate_mbit * 1e6 / 8 * 0.004), 4 * 1514)
        latency = max(100.0, 2 * self.delay_ms)
        return ["tbf", "rate", f"{rate_mbit}mbit", "burst", str(burst), "latency", f"{latency:g}ms"]

    def shape(self, rate_mbit: float) -> None:
        """Downloads from every server address through one tbf at ``rate_mbit``."""
        self.ns(self.srv, "tc", "qdisc", "replace", "dev", "eth0", "root", *self._tbf(rate_mbit))

    def shape_upload(self, rate_mbit: float) -> None:
        """Uploads through a tbf on the server's ingress (redirected to an ifb): a tbf on the
        sender's own egress pushes back on its TCP (small queues) and reads ~2% low."""
        if not self._ifb:
            self.ns(self.srv, "ip", "link", "add", "ifb0", "type", "ifb")
            self.ns(self.srv, "ip", "link", "set", "ifb0", "up")
            self.ns(self.srv, "tc", "qdisc", "add", "dev", "eth0", "handle", "ffff:", "ingress")
            self.ns(
                self.srv, "tc", "filter", "add", "dev", "eth0", "parent", "ffff:",
                "protocol", "all", "u32", "match", "u32", "0", "0",
                "action", "mirred", "egress", "redirect", "dev", "ifb0",
            )  # fmt: skip
            self._ifb = True
        self.ns(self.srv, "tc", "qdisc", "replace", "dev", "ifb0", "root", *self._tbf(rate_mbit))

    def upload_wire_bytes(self) -> int:
        """Bytes the upload shaper has passed so far (frames, headers included)."""
        out = self.ns(self.srv, "tc", "-s", "qdisc", "show", "dev", "ifb0").stdout
        return int(out.split("Sent ", 1)[1].split(" ", 1)[0])

    def shape_per_address(self, service_mbit: float, control_mbit: float) -> None:
        """htb: the service address (.1) at one rate, the control address (.3) at another."""
        dev = ("dev", "eth0")
        self.ns(self.srv, "tc", "qdisc", "del", *dev, "root", check=False)
        self.ns(
            self.srv, "tc", "qdisc", "add", *dev, "root", "handle", "1:", "htb", "default", "20"
        )
        for cls, rate, ip in (
            ("1:10", service_mbit, self.srv_ip),
            ("1:20", control_mbit, self.control_ip),
        ):
            # an unlimited htb class per address with the rate in a tbf leaf: tbf splits GSO
            # frames and keeps the same small bucket and 100 ms queue as the single-rate cells
            self.ns(
                self.srv, "tc", "class", "add", *dev, "parent", "1:", "classid", cls, "htb",
                "rate", "10gbit",
            )  # fmt: skip
            self.ns(self.srv, "tc", "qdisc", "add", *dev, "parent", cls, *self._tbf(rate))
            self.ns(
                self.srv, "tc", "filter", "add", *dev, "parent", "1:", "protocol", "ip",
                "prio", "1", "u32", "match", "ip", "src", f"{ip}/32", "flowid", cls,
            )  # fmt: skip

    # --- measuring from the client side -------------------------------------------------------

    def measure(self, url: str, direction: str = "download", **kwargs: Any) -> SpeedResult:
        args = {"url": url, "direction": direction, **kwargs}
        proc = _run(
            "ip", "netns", "exec", self.cli, sys.executable, "-c", _MEASURE, json.dumps(args),
        )  # fmt: skip
        return SpeedResult.model_validate_json(proc.stdout)

    def python_in_client(self, code: str, *args: str) -> str:
        """Run ``code`` with the client namespace's network; its stdout."""
        return _run("ip", "netns", "exec", self.cli, sys.executable, "-c", code, *args).stdout

    def iperf3_reverse(self, seconds: int = 5, *, reverse: bool = True) -> float:
        """iperf3 -R -t ``seconds`` on the same link (server -> client; client -> server with
        ``reverse=False``): Mbit/s received."""
        server = self.spawn(self.srv, "iperf3", "-s", "-1", "-B", self.srv_ip)
        try:
            self._wait_port(self.srv_ip, 5201)
            out = _run(
                "ip", "netns", "exec", self.cli, "iperf3", "-c", self.srv_ip,
                *(["-R"] if reverse else []), "-t", str(seconds), "-J",
            ).stdout  # fmt: skip
        finally:
            server.wait(10)
        report = json.loads(out)
        return float(report["end"]["sum_received"]["bits_per_second"]) / 1e6
