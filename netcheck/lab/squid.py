"""The gateway's explicit proxy as squid configuration.

In: a scenario's proxy policy and the lab's paths (corporate CA, public CA, squid's work dir).
Out: ``squid.conf`` text, and ``prepare`` to make squid's directories (writable by user ``proxy``)
and its certificate database for ssl_bump.

Modes: ``explicit`` tunnels CONNECT and forwards http://; ``bump`` additionally terminates TLS
with certificates minted on the fly by the corporate CA (what an agency's "TLS inspection" does),
so requests inside HTTPS can be judged by domain and by URL, and denied with a page served over
that TLS. Deny pages are squid's own (``X-Squid-Error`` header) in Spanish. squid resolves through
the lab's gateway resolver only (``dns_nameservers``; it never reads the host's resolv.conf) and
trusts the lab's public CA for the real servers.

Authentication (``auth`` in the policy) is what agency proxies demand before anything else:
``auth_lines`` gives squid's ``auth_param`` lines for Basic (``basic_ncsa_auth``, apr1 hashes),
Digest (``digest_file_auth``, ``user:realm:HA1``), NTLM (``ntlm_fake_auth``, tests only) and
Negotiate (``negotiate_kerberos_auth`` with the proxy's keytab), and ``write_auth_files`` the
password files the first two read. ``render`` puts ``http_access deny !authed`` first, so an
unauthenticated request gets a 407 and an authenticated one meets the scenario's own rules.
tests/support/squid.py builds its test proxies from the same lines.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from netcheck.lab import topology
from netcheck.lab.scenarios import ProxyPolicy

HELPERS = Path("/usr/lib/squid")
CERTGEN = str(HELPERS / "security_file_certgen")
SQUID_USER = "proxy"
SQUID_ERRORS = Path("/usr/share/squid/errors/es")
#: the realm squid names in Basic and Digest challenges (Digest hashes depend on it)
AUTH_REALM = "Ministerio Lab proxy"
BASIC_FILE = "basic.passwd"
LAB_HELPERS = 8
DIGEST_FILE = "digest.passwd"
#: deny pages an agency writes itself (no vendor wording), served by ``deny_info``: name -> (squid
#: template name, HTML). They live in an error directory of the lab's own beside squid's Spanish
#: templates, so the scenarios that do not use them keep squid's language negotiation.
LAB_PAGES = {
    "acceso-restringido": (
        "ERR_ACCESO_RESTRINGIDO",
        '<!DOCTYPE html><html lang="es"><head><meta charset="utf-8">'
        '<title>Acceso restringido</title></head><body><div class="aviso">'
        "<h2>Acceso restringido</h2><p>El recurso solicitado no se encuentra disponible desde "
        "la red institucional.</p><p>Si lo necesita por motivos de trabajo, comun&iacute;quese "
        "con la Mesa de Ayuda indicando la direcci&oacute;n solicitada.</p>"
        "<p>Direcci&oacute;n de Tecnolog&iacute;a</p></div></body></html>\n",
    ),
}


def _apr1(password: str) -> str:
    # basic_ncsa_auth reads Apache's apr1 MD5 hashes; openssl makes them with a fresh salt
    return topology.run(["openssl", "passwd", "-apr1", "-stdin"], input_text=password).strip()


def write_auth_files(workdir: Path, users: Mapping[str, str], realm: str = AUTH_REALM) -> None:
    """The password files Basic and Digest read (user -> password), readable by squid's user.
    They hold hashes only: an apr1 hash for Basic, ``user:realm:HA1`` for Digest."""
    (workdir / BASIC_FILE).write_text("".join(f"{u}:{_apr1(p)}\n" for u, p in users.items()))
    rows = [
        f"{u}:{realm}:{hashlib.md5(f'{u}:{realm}:{p}'.encode()).hexdigest()}\n"
        for u, p in users.items()
    ]
    (workdir / DIGEST_FILE).write_text("".join(rows))
    user = pwd.getpwnam(SQUID_USER)
    for name in (BASIC_FILE, DIGEST_FILE):
        os.chown(workdir / name, user.pw_uid, user.pw_gid)
        (workdir / name).chmod(0o600)


def auth_lines(
    schemes: Sequence[str],
    workdir: Path,
    *,
    realm: str = AUTH_REALM,
    keytab: Path | None = None,
    principal: str = "GSS_C_NO_NAME",
    children: int = 2,
) -> list[str]:
    """``auth_param`` lines for ``schemes``, in the order squid offers them to clients, then
    the ``authed`` ACL (any user squid accepted). Basic and Digest read ``write_auth_files``'s
    files in ``workdir``; negotiate needs the keytab holding ``principal``'s key. ``children``:
    helper processes per scheme (Negotiate asks its helper once per new connection)."""
    pool = f"children {children} startup=1 idle=1"
    lines: list[str] = []
    for scheme in schemes:
        if scheme == "basic":
            lines += [
                f"auth_param basic program {HELPERS / 'basic_ncsa_auth'} {workdir / BASIC_FILE}",
                f"auth_param basic realm {realm}",
                f"auth_param basic {pool}",
            ]
        elif scheme == "digest":
            lines += [
                f"auth_param digest program {HELPERS / 'digest_file_auth'} -c "
                f"{workdir / DIGEST_FILE}",
                f"auth_param digest realm {realm}",
                f"auth_param digest {pool}",
            ]
        elif scheme == "ntlm":
            lines += [
                f"auth_param ntlm program {HELPERS / 'ntlm_fake_auth'}",
                f"auth_param ntlm {pool}",
            ]
        elif scheme == "negotiate":
            if keytab is None:
                raise ValueError("negotiate needs the proxy's keytab")
            lines += [
                f"auth_param negotiate program {HELPERS / 'negotiate_kerberos_auth'} "
                f"-k {keytab} -s {principal}",
                f"auth_param negotiate {pool}",
                "auth_param negotiate keep_alive on",
            ]
        else:
            raise ValueError(f"unknown proxy authentication scheme {scheme!r}")
    return [*lines, "acl authed proxy_auth REQUIRED"]


def _domains(names: list[str]) -> str:
    return " ".join("." + n.lstrip(".") for n in names)


def render(
    policy: ProxyPolicy,
    workdir: Path,
    corporate_ca: Path,
    corporate_key: Path,
    public_ca: Path,
    *,
    keytab: Path | None = None,
    principal: str = "GSS_C_NO_NAME",
) -> str:
    port = f"http_port {topology.GW_INSIDE_IP}:{topology.PROXY_PORT}"
    if policy.mode == "bump":
        port += (
            f" ssl-bump tls-cert={corporate_ca} tls-key={corporate_key}"
            " generate-host-certificates=on dynamic_cert_mem_cache_size=4MB"
        )
    lines = [
        "# netcheck lab proxy (namespace nclab-gateway)",
        port,
        "visible_hostname nclab-gateway",
        f"pid_filename {workdir / 'squid.pid'}",
        f"cache_log {workdir / 'cache.log'}",
        f"access_log stdio:{workdir / 'access.log'}",
        f"coredump_dir {workdir}",
        "cache deny all",
        "cache_mem 8 MB",
        "shutdown_lifetime 0 seconds",
        f"dns_nameservers {topology.GW_INSIDE_IP}",
        f"udp_outgoing_address {topology.GW_INSIDE_IP}",  # its DNS socket, else bound to 0.0.0.0
        "hosts_file none",
        "dns_defnames off",
        "error_default_language es",
        "icp_port 0",
        "htcp_port 0",
        "pinger_enable off",
        f"tls_outgoing_options cafile={public_ca}",
        f"acl localnet src {topology.LAB_NET}",
        "acl CONNECT method CONNECT",
        "acl Safe_ports port 80 443",
        "http_access deny !Safe_ports",
    ]
    if policy.auth:
        # before every other rule, as agencies write it: no user, no answer but a 407
        # a probe opens a connection per target, dozens at once: enough helpers for a burst
        lines += auth_lines(
            policy.auth, workdir, keytab=keytab, principal=principal, children=LAB_HELPERS
        )
        lines.append("http_access deny !authed")
    if policy.deny_connect:
        lines += [
            f"acl deny_connect dstdomain {_domains(policy.deny_connect)}",
            "http_access deny CONNECT deny_connect",
        ]
    if policy.deny_http:
        # with bump, the requests inside the tunnel are not CONNECT: this denies them after
        # the handshake, so the deny page arrives over TLS signed by the corporate CA
        lines += [
            f"acl deny_http dstdomain {_domains(policy.deny_http)}",
            "http_access deny !CONNECT deny_http",
        ]
    for index, pattern in enumerate(policy.deny_url):
        lines.append(f"acl deny_url url_regex -i {pattern}")
        if index == len(policy.deny_url) - 1:
            lines.append("http_access deny deny_url")
    if policy.deny_page is not None:
        page = LAB_PAGES[policy.deny_page][0]
        lines.append(f"error_directory {workdir / 'errors'}")
        acls = ["deny_http"] * bool(policy.deny_http) + ["deny_url"] * bool(policy.deny_url)
        lines += [f"deny_info {page} {acl}" for acl in acls]
    lines += ["http_access allow localnet", "http_access deny all"]
    if policy.mode == "bump":
        lines += [
            f"sslcrtd_program {CERTGEN} -s {workdir / 'ssl_db'} -M 4MB",
            "sslcrtd_children 8 startup=8 idle=4",
            "acl step1 at_step SslBump1",
            "ssl_bump peek step1",
            "ssl_bump bump all",
        ]
    return "\n".join(lines) + "\n"


def prepare(workdir: Path, corporate_key: Path) -> None:
    """squid drops to user ``proxy``: its dirs, logs and the CA key must be readable by it."""
    user = pwd.getpwnam(SQUID_USER)
    workdir.mkdir(parents=True, exist_ok=True)
    os.chown(workdir, user.pw_uid, user.pw_gid)
    os.chown(corporate_key, 0, user.pw_gid)
    errors = workdir / "errors"  # squid's Spanish templates plus the lab's own pages
    if errors.exists():
        shutil.rmtree(errors)
    shutil.copytree(SQUID_ERRORS, errors)
    for name, html in LAB_PAGES.values():
        (errors / name).write_text(html, encoding="utf-8")
    db = workdir / "ssl_db"
    if db.exists():
        shutil.rmtree(db)
    topology.run(["runuser", "-u", SQUID_USER, "--", CERTGEN, "-c", "-s", str(db), "-M", "4MB"])
