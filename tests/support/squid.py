"""A real squid on 127.0.0.1 that authenticates, started by the test itself.

``auth_squid(schemes, users)`` writes squid.conf and the helpers' files in a fresh directory
readable by squid's user, starts ``squid -N`` under its own service name (its shared memory
cannot collide with the lab's squid or another test's), waits until it listens, and stops it.
Names resolve through a ``hosts_file`` (so squid never asks a resolver): every host it is
given maps to 127.0.0.1. The authentication lines and password files are the lab's own
(``netcheck.lab.squid.auth_lines`` and ``write_auth_files``: one copy for the lab and the tests).
``schemes`` use the helpers Debian's squid ships: basic -> basic_ncsa_auth (apr1 hashes),
digest -> digest_file_auth (``user:realm:HA1``), ntlm -> ntlm_fake_auth (accepts any
well-formed NTLM exchange: enough to test the connection-bound legs), negotiate ->
negotiate_kerberos_auth with ``keytab``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netcheck.lab.squid import auth_lines, write_auth_files
from tests.support.netns import require_root
from tests.support.ports import free_port

REALM = "netcheck-test"
USER = "proxy"


@dataclass(frozen=True)
class Squid:
    port: int
    workdir: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self, name: str = "cache.log") -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""


def _listening(host: str, port: int, netns: str | None) -> bool:
    if netns is not None:
        query = ["ip", "netns", "exec", netns, "ss", "-Hltn", f"src {host} and sport = :{port}"]
        return bool(subprocess.run(query, capture_output=True, text=True).stdout.strip())
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _wait_listening(
    host: str, port: int, proc: subprocess.Popen[bytes], workdir: Path, netns: str | None
) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"squid exited: {(workdir / 'cache.log').read_text()[-2000:]}")
        if _listening(host, port, netns):
            return
        time.sleep(0.1)
    raise RuntimeError("squid did not start listening")


@contextlib.contextmanager
def auth_squid(
    schemes: Sequence[str],
    users: Mapping[str, str],
    hosts: Sequence[str] = (),
    *,
    keytab: Path | None = None,
    principal: str = "GSS_C_NO_NAME",
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    netns: str | None = None,
    port: int | None = None,
) -> Iterator[Squid]:
    """squid with ``schemes`` for ``users``; in namespace ``netns`` when given (then pass
    ``port``: a free port cannot be picked from outside it)."""
    require_root("a real squid", "it drops to user proxy", ("squid",))
    user = pwd.getpwnam(USER)
    workdir = Path(tempfile.mkdtemp(prefix="nc-squid-"))
    workdir.chmod(0o755)
    os.chown(workdir, user.pw_uid, user.pw_gid)
    port = port or free_port(host)
    (workdir / "hosts").write_text("".join(f"127.0.0.1 {h}\n" for h in hosts))
    if users:
        write_auth_files(workdir, users, REALM)
    conf = [
        f"http_port {host}:{port}",
        "visible_hostname netcheck-test",
        f"pid_filename {workdir / 'squid.pid'}",
        f"cache_log {workdir / 'cache.log'}",
        f"access_log stdio:{workdir / 'access.log'}",
        f"coredump_dir {workdir}",
        "cache deny all",
        "cache_mem 8 MB",
        "shutdown_lifetime 0 seconds",
        f"hosts_file {workdir / 'hosts'}",
        "dns_nameservers 127.0.0.1",
        "icp_port 0",
        "htcp_port 0",
        "pinger_enable off",
        *auth_lines(schemes, workdir, realm=REALM, keytab=keytab, principal=principal),
        "http_access allow authed",
        "http_access deny all",
    ]
    (workdir / "squid.conf").write_text("\n".join(conf) + "\n")
    for path in workdir.iterdir():
        os.chown(path, user.pw_uid, user.pw_gid)
    service = f"nctest{secrets.token_hex(4)}"  # names squid's shared memory: never shared
    argv = ["squid", "-N", "-n", service, "-f", str(workdir / "squid.conf")]
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, *argv] if netns else argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    try:
        _wait_listening(host, port, proc, workdir, netns)
        yield Squid(port=port, workdir=workdir, host=host)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
