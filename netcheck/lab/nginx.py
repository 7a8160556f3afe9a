"""The fake internet's web servers as nginx configuration, and the pages they serve.

In: the site plan (``sites.plan``), the PKI and a work dir. Out: ``nginx.conf`` text and a web root
per host (``write_pages``). Every site listens on its own address only, HTTPS on its TLS ports and
plain HTTP on its other ports; any path it has no page for gets its front page, so catalogue URLs
with paths and queries answer 200. The text is rendered per scenario: a ``narrow_certs`` scenario
serves its hosts with a certificate that lists their own name only. Every site, and the bulk
endpoint, also serves ``/__lab/large.bin`` (a sparse file) for throughput comparisons.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from netcheck.lab import browserpages, topology
from netcheck.lab.pki import Pki
from netcheck.lab.sites import BULK_HOST, LARGE_PATH, Site

LARGE_SIZE = 200 * 1024 * 1024


def _page_html(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>\n"
    )


def write_pages(sites: list[Site], www: Path) -> Path:
    """Web roots under ``www/<host>/``; returns the large object's path."""
    for site in sites:
        root = www / site.host
        for page in site.pages:
            folder = root / page.path.strip("/") if page.path.strip("/") else root
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "index.html").write_text(_page_html(page.title, page.body), "utf-8")
    bulk = www / BULK_HOST
    bulk.mkdir(parents=True, exist_ok=True)
    (bulk / "index.html").write_text(_page_html("lab bulk endpoint", "large objects"), "utf-8")
    large = www / "large.bin"
    with large.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(LARGE_SIZE)
    return large


def _server(
    host: str,
    ips: tuple[str, ...],
    tls_ports: tuple[int, ...],
    plain_ports: tuple[int, ...],
    pki: Pki,
    www: Path,
    large: Path,
    narrow: bool = False,
) -> list[str]:
    cert, key = pki.leaf(host, narrow)
    lines = ["    server {"]
    lines += [f"        listen {ip}:{port} ssl;" for ip in ips for port in tls_ports]
    lines += [f"        listen {ip}:{port};" for ip in ips for port in plain_ports]
    lines += [
        f"        server_name {host};",
        f"        ssl_certificate {cert};",
        f"        ssl_certificate_key {key};",
        f"        root {www / host};",
        f"        location = {LARGE_PATH} {{ alias {large}; types {{ }} "
        "default_type application/octet-stream; }",
        "        location / { try_files $uri/index.html $uri /index.html; }",
        *browserpages.nginx_lines(),  # CORS and the websocket endpoint (browser mode)
        "    }",
    ]
    return lines


def render(
    sites: list[Site],
    pki: Pki,
    workdir: Path,
    www: Path,
    large: Path,
    edges: dict[str, str] | None = None,
    narrow: Sequence[str] = (),
) -> str:
    """``edges``: host -> a second address the same site also answers on (a CDN edge);
    ``narrow``: hosts served with their narrow leaf (their own name only, ``Pki.leaf``)."""
    edges = edges or {}
    tmp = workdir / "tmp"
    lines = [
        "# netcheck lab fake internet (namespace nclab-internet)",
        "daemon off;",
        "worker_processes 1;",
        f"pid {workdir / 'nginx.pid'};",
        f"error_log {workdir / 'error.log'} warn;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    default_type text/html;",
        browserpages.NGINX_TYPES,
        "    charset utf-8;",
        "    sendfile on;",
        "    server_tokens off;",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        f"    client_body_temp_path {tmp}/body;",
        f"    proxy_temp_path {tmp}/proxy;",
        f"    fastcgi_temp_path {tmp}/fastcgi;",
        f"    uwsgi_temp_path {tmp}/uwsgi;",
        f"    scgi_temp_path {tmp}/scgi;",
    ]
    for site in sites:
        ips = (site.ip, edges[site.host]) if site.host in edges else (site.ip,)
        lines += _server(
            site.host,
            ips,
            site.tls_ports,
            site.plain_ports,
            pki,
            www,
            large,
            narrow=site.host in narrow,
        )
    lines += _server(BULK_HOST, (topology.BULK_IP,), (443,), (80,), pki, www, large)
    lines.append("}")
    return "\n".join(lines) + "\n"
