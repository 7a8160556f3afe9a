"""The squid importer agrees with real squid: a squid 5 on 127.0.0.1 is asked, host by host,
whether it allows or denies, and the importer must give the same answer for every URL.

squid never leaves loopback: every request goes to a parent peer on 127.0.0.1 whose port is
closed (``never_direct``), DNS points at 127.0.0.1, and no ACL here needs name resolution.
A denial is 403 with ``X-Squid-Error: ERR_ACCESS_DENIED``; anything else is an allowed request
that then failed upstream. Needs root and squid (CI installs it).
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.policy.importers.squid import parse
from tests.support.paths import TESTS
from tests.support.ports import free_port

DATA = TESTS / "data" / "policy"
SQUID = shutil.which("squid") or "/usr/sbin/squid"

HOSTS = [
    "studio.youtube.com",
    "www.youtube.com",
    "youtube.com",
    "i.ytimg.com",
    "rr1.googlevideo.com",
    "googlevideo.com",
    "twitch.tv",
    "www.twitch.tv",
    "business.facebook.com",
    "www.facebook.com",
    "facebook.com",
    "scontent.xx.fbcdn.net",
    "fbcdn.net",
    "ads.x.com",
    "a.ads.x.com",
    "x.com",
    "pro.x.com",
    "www.tiktok.com",
    "tiktok.com",
    "stats.doubleclick.net",
    "doubleclick.net.evil.org",
    "ad3.example.org",
    "adserver.example.org",
    "plain.example.org",
    "WWW.YOUTUBE.COM",
]


def _closed_port() -> int:
    return free_port()  # nothing listens there: the parent refuses every connection


class RealSquid:
    def __init__(self, workdir: Path, rules: str) -> None:
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # squid started by root runs as `proxy`; a user's squid as the user
            user = pwd.getpwnam("proxy")
            os.chown(workdir, user.pw_uid, user.pw_gid)
        self.conf = workdir / "squid.conf"
        self.conf.write_text(
            "\n".join(
                [
                    f"http_port 127.0.0.1:{self.port}",
                    f"pid_filename {workdir / 'squid.pid'}",
                    f"cache_log {workdir / 'cache.log'}",
                    "access_log none",
                    f"coredump_dir {workdir}",
                    "cache deny all",
                    "cache_mem 4 MB",
                    "shutdown_lifetime 0 seconds",
                    "dns_nameservers 127.0.0.1",
                    "hosts_file none",
                    "icp_port 0",
                    "htcp_port 0",
                    "pinger_enable off",
                    f"cache_peer 127.0.0.1 parent {_closed_port()} 0 no-query no-digest "
                    "no-netdb-exchange",
                    "never_direct allow all",
                    "connect_timeout 2 seconds",
                ]
            )
            + "\n"
            + rules
        )
        self.proc = subprocess.Popen(
            # a service name of its own: squid names its shared-memory segments after it, and
            # another squid on the machine (another test run, root's) must not collide
            [SQUID, "-N", "-n", f"nctest{self.port}", "-f", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"squid exited: {self.proc.stderr.read()[-2000:]!r}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("squid did not start listening within 20 s")

    def denies(self, method: str, target: str, host: str) -> bool:
        request = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.settimeout(10)
            s.sendall(request.encode())
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert head.startswith("HTTP/1."), head[:200]
        return head.split()[1] == "403" and "ERR_ACCESS_DENIED" in head

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _agree(squid: RealSquid, config_text: str, file: Path, paths: list[str]) -> int:
    imported = parse(config_text, str(file))
    imported.client = "127.0.0.1"  # the address squid sees our requests come from
    checked = 0
    for host in HOSTS:
        ours = imported.decide(f"https://{host}/").action == "block"
        assert squid.denies("CONNECT", f"{host}:443", f"{host}:443") == ours, ("CONNECT", host)
        checked += 1
        for path in paths:
            url = f"http://{host}{path}"
            ours = imported.decide(url).action == "block"
            assert squid.denies("GET", url, host) == ours, ("GET", url)
            checked += 1
    return checked


@pytest.fixture
def squid_for(tmp_path: Path) -> Iterator[list[RealSquid]]:
    started: list[RealSquid] = []
    yield started
    for squid in started:
        squid.stop()


@pytest.mark.parametrize("name", ["squid-agency.conf", "squid-open.conf", "squid-implicit.conf"])
def test_importer_agrees_with_real_squid(
    tmp_path: Path, squid_for: list[RealSquid], name: str
) -> None:
    rules = (DATA / name).read_text()
    shutil.copy(DATA / "streaming-domains.txt", tmp_path / "streaming-domains.txt")
    rules = rules.replace('"streaming-domains.txt"', f'"{tmp_path / "streaming-domains.txt"}"')
    squid = RealSquid(tmp_path / "squid", rules)
    squid_for.append(squid)
    # the importer reads the rules at the same line offsets as in the test data file
    checked = _agree(squid, rules, DATA / name, ["/", "/@ministerio", "/watch?v=1", "/ads/x"])
    assert checked == len(HOSTS) * 5


def _random_config(rng: random.Random) -> str:
    names = [
        "youtube.com",
        "studio.youtube.com",
        "x.com",
        "ads.x.com",
        "facebook.com",
        "fbcdn.net",
        "tiktok.com",
        "example.org",
    ]
    lines = ["acl CONNECT method CONNECT"]
    acls: list[str] = ["CONNECT"]
    for i in range(rng.randint(2, 5)):
        kind = rng.choice(
            ["dstdomain", "dstdomain", "ssl::server_name", "dstdom_regex", "url_regex"]
        )
        values = []
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(names)
            if kind in ("dstdomain", "ssl::server_name"):
                # squid refuses an acl listing a domain and one of its subdomains
                if not any(
                    v.lstrip(".").endswith(name) or name.endswith(v.lstrip(".")) for v in values
                ):
                    values.append(rng.choice(["", "."]) + name)
            elif kind == "dstdom_regex":
                values.append(rng.choice([f"{name.split('.')[0]}", f"^www\\.{name.split('.')[0]}"]))
            else:
                values.append(rng.choice(["/watch", "@ministerio", f"{name.split('.')[0]}.*:443"]))
        flag = "-i " if kind.endswith("regex") and rng.random() < 0.5 else ""
        lines.append(f"acl a{i} {kind} {flag}{' '.join(values)}")
        acls.append(f"a{i}")
    for _ in range(rng.randint(1, 5)):
        terms = rng.sample(acls, rng.randint(1, 2))
        terms = [("!" if rng.random() < 0.25 else "") + t for t in terms]
        lines.append(f"http_access {rng.choice(['allow', 'deny'])} {' '.join(terms)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_random_configs_agree_with_real_squid(
    tmp_path: Path, squid_for: list[RealSquid], seed: int
) -> None:
    rules = _random_config(random.Random(seed))
    squid = RealSquid(tmp_path / "squid", rules)
    squid_for.append(squid)
    _agree(squid, rules, tmp_path / "random.conf", ["/", "/watch?v=1"])
