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
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from netcheck.lab import topology
from netcheck.lab.scenarios import ProxyPolicy

CERTGEN = "/usr/lib/squid/security_file_certgen"
SQUID_USER = "proxy"
SQUID_ERRORS = Path("/usr/share/squid/errors/es")
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


def _domains(names: list[str]) -> str:
    return " ".join("." + n.lstrip(".") for n in names)


def render(
    policy: ProxyPolicy, workdir: Path, corporate_ca: Path, corporate_key: Path, public_ca: Path
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
