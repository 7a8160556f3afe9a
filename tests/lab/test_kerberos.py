"""Kerberos through an authenticating squid, with a real MIT KDC (issue 13 §3).

Everything runs in a namespace the test makes (``nctest-krb-<pid>``, loopback only): the KDC
(``krb5kdc``, realm made by ``netcheck.lab.kdc``), squid with ``negotiate_kerberos_auth`` and the
proxy's keytab, real origins (plain HTTP and HTTPS), and ``netcheck run`` itself through
``ip netns exec``, which gives it the namespace's ``hosts`` file: the proxy's name
``proxy.nclab.test`` resolves forward and reverse there and nowhere else. The staff user gets
a ticket with ``kinit`` (password on stdin), then ``--proxy-auth negotiate`` uses it.

squid's Negotiate configuration is the lab's own (``netcheck.lab.squid.auth_lines``, through
``tests.support.squid.auth_squid``): the same lines the ``proxy-kerberos`` scenario runs in the
full lab (tests/lab/test_proxy_auth_lab.py). This test keeps a namespace of its own, so it runs
without the lab's lock and fails on Kerberos alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from netcheck.lab import kdc
from tests.support.netns import require_root
from tests.support.squid import Squid, auth_squid

pytestmark = pytest.mark.lab

REALM = "NCLAB.TEST"
DOMAIN = "nclab.test"
PROXY = "proxy.nclab.test"
SITE = "www.krb.test"
USER = "alice"
PASSWORD = "Kerberos-in-the-lab-1"
SQUID_PORT = 3128
NEEDED = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "squid", "openssl")


@dataclass(frozen=True)
class KrbLab:
    ns: str
    realm: kdc.Realm
    squid: Squid
    workdir: Path
    targets: Path


def _ns(ns: str, argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=False, **kw
    )  # type: ignore[call-overload, no-any-return]


def _wait_port(ns: str, port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _ns(ns, ["ss", "-Hltn", f"sport = :{port}"]).stdout.strip():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on {port}")


@pytest.fixture(scope="module")
def krb() -> Iterator[KrbLab]:
    require_root("the Kerberos lab", "a network namespace, squid", NEEDED)
    ns = f"nctest-krb-{os.getpid()}"
    etc = Path("/etc/netns") / ns
    workdir = Path(tempfile.mkdtemp(prefix="nc-krb-"))
    workdir.chmod(0o755)
    procs: list[subprocess.Popen[bytes]] = []
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        etc.mkdir(parents=True, exist_ok=True)
        # forward and reverse: 127.0.0.1 is the proxy's name first; the site resolves too
        (etc / "hosts").write_text(f"127.0.0.1 {PROXY} localhost {SITE}\n")
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        realm = kdc.Realm(REALM, workdir / "realm", "127.0.0.1")
        kdc.create(realm, DOMAIN, [PROXY], {USER: PASSWORD})
        env = ["env", *(f"{k}={v}" for k, v in realm.env().items())]
        procs.append(
            subprocess.Popen(
                ["ip", "netns", "exec", ns, *env, *realm.kdc_argv()],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_port(ns, realm.kdc_port, procs[-1], "krb5kdc")
        # real origins inside the namespace: plain HTTP and HTTPS (a lab CA the probe trusts)
        ca = trustme.CA(organization_name="Kerberos lab CA")
        ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
        leaf = ca.issue_cert(SITE)
        leaf.private_key_and_cert_chain_pem.write_to_path(str(workdir / "site.pem"))
        (workdir / "index.html").write_text("<html><title>Agency page</title>ok</html>")
        procs.append(
            subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "8080"]
                + ["--bind", "127.0.0.1", "--directory", str(workdir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_port(ns, 8080, procs[-1], "http.server")
        procs.append(
            subprocess.Popen(
                ["ip", "netns", "exec", ns, "openssl", "s_server", "-quiet", "-www"]
                + ["-accept", "127.0.0.1:8443", "-cert", str(workdir / "site.pem")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_port(ns, 8443, procs[-1], "openssl s_server")
        targets = workdir / "targets.yaml"
        rows = [
            {"url": f"https://{SITE}:8443/", "service": "agency", "function": "view"},
            {"url": f"http://{SITE}:8080/", "service": "agency", "function": "view"},
        ]
        targets.write_text(json.dumps({"targets": rows}))
        with auth_squid(
            ["negotiate"],
            {},
            [SITE],
            keytab=realm.keytab(PROXY),
            principal=f"HTTP/{PROXY}@{REALM}",
            env=realm.env(),
            netns=ns,
            port=SQUID_PORT,
        ) as squid:
            yield KrbLab(ns, realm, squid, workdir, targets)
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(etc, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _run_probe(lab: KrbLab, ccache: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = [
        "env",
        *(f"{k}={v}" for k, v in lab.realm.env().items()),
        f"KRB5CCNAME=FILE:{ccache}",
        "NO_COLOR=1",
    ]
    argv = [
        sys.executable, "-m", "netcheck", "run", "--no-catalogue", "--targets", str(lab.targets),
        "--ca-bundle", str(lab.workdir / "ca.pem"), "--allow-net", "127.0.0.0/8",
        "--proxy", f"http://{PROXY}:{SQUID_PORT}", "--proxy-auth", "negotiate",
        "--timeout", "5", "--out", str(out), "--json",
    ]  # fmt: skip
    return _ns(lab.ns, [*env, *argv], timeout=120)


def test_negotiate_with_the_users_ticket_passes_squid(krb: KrbLab) -> None:
    ccache = krb.realm.ccache(USER)
    got = _ns(krb.ns, [*_env(krb), *kdc.kinit_argv(krb.realm, USER)], input=PASSWORD + "\n")
    assert got.returncode == 0, got.stderr
    out = krb.workdir / "negotiate.jsonl"
    proc = _run_probe(krb, ccache, out)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["verdict"] == "accessible", record["evidence"]
        last = record["steps"]["http"][-1]
        assert last["status"] == 200
        assert last["proxy_auth"] == "negotiate"
        assert record["probe"]["proxy"] == f"http://{PROXY}:{SQUID_PORT}"
    # squid's helper accepted the ticket: it logs the Kerberos principal
    served = [r.split() for r in krb.squid.log("access.log").splitlines() if "/200 " in r]
    assert served
    assert all(row[7] == f"{USER}@{REALM}" for row in served), served
    assert PASSWORD not in out.read_text() + proc.stderr + proc.stdout


def test_without_a_ticket_the_407_is_inconclusive(krb: KrbLab) -> None:
    out = krb.workdir / "no-ticket.jsonl"
    proc = _run_probe(krb, krb.workdir / "no-such-ccache", out)
    assert proc.returncode == 0, proc.stderr  # inconclusive is not "blocked" (exit 1)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for record in records:
        assert record["verdict"] == "inconclusive", record["evidence"]
        assert "the proxy requires authentication (407)" in record["evidence"]
        assert "Negotiate" in record["evidence"]


def _env(lab: KrbLab) -> list[str]:
    return ["env", *(f"{k}={v}" for k, v in lab.realm.env().items())]
