"""What the lab's fake internet serves, derived from the target catalogue.

In: the built-in catalogue (``netcheck.targets.catalogue.builtin_targets``) plus the lab's own
targets (``lab_targets.yaml``: the lab agency's official channel and a plain-HTTP page). Out:
one ``Site`` per host — its service, its address (one /24 per service, see ``topology.site_ip``),
the names its certificate must cover and the pages it serves — so that nginx, the upstream
resolver and the PKI all follow the catalogue: a new catalogue host is served by the next
``lab up`` with no lab edit.

Pages satisfy the target's expectations (first ``title_contains`` word in the title, first
``body_contains`` word in the body), so an untouched page reads as the real service.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

import yaml

from netcheck.lab import topology
from netcheck.models import Target
from netcheck.netaddr import url_host

BULK_HOST = "bulk.nclab.example"
CONTROL_HOST = "control.nclab.example"
LARGE_PATH = "/__lab/large.bin"
TLS_SCHEMES = ("https", "rtmps", "wss")


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    body: str


@dataclass(frozen=True)
class Site:
    host: str
    service: str
    ip: str
    cert_names: tuple[str, ...]
    pages: tuple[Page, ...]
    tls_ports: tuple[int, ...]
    plain_ports: tuple[int, ...]


def _catalogue_targets() -> list[Target]:
    from netcheck.targets.catalogue import builtin_targets

    return list(builtin_targets())


def extra_targets() -> list[Target]:
    """The lab agency's own targets (they are handed to the probe as a targets file)."""
    text = resources.files("netcheck.lab").joinpath("lab_targets.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return [Target.from_json(item) for item in data["targets"]]


def lab_targets() -> list[Target]:
    seen: set[str] = set()
    merged: list[Target] = []
    for target in _catalogue_targets() + extra_targets():
        if target.url not in seen:
            seen.add(target.url)
            merged.append(target)
    return merged


def matches(host: str, domain: str) -> bool:
    """Squid ``.example.com`` semantics for a bare ``example.com``: the name or any subdomain."""
    domain = domain.lower().lstrip(".")
    if "*" in domain:
        return fnmatch.fnmatch(host, domain)
    return host == domain or host.endswith("." + domain)


def _page_for(target: Target, path: str) -> Page:
    title_word = target.expect.title_contains[0] if target.expect.title_contains else ""
    title = f"{title_word} - {target.service} {target.function}".strip(" -")
    body = target.expect.body_contains[0] if target.expect.body_contains else ""
    text = f"{title}. {body} Lab copy of {target.url} served by the netcheck lab."
    return Page(path=path, title=title, body=text)


def plan(targets: list[Target]) -> list[Site]:
    """One site per host, addresses grouped by service (sorted, so the plan is stable)."""
    by_host: dict[str, list[Target]] = {}
    for target in targets:
        by_host.setdefault(url_host(target.url), []).append(target)
    services = sorted({ts[0].service for ts in by_host.values()})
    counters = dict.fromkeys(services, 0)
    sites: list[Site] = []
    for host in sorted(by_host):
        group = by_host[host]
        service = group[0].service
        ip = topology.site_ip(services.index(service), counters[service])
        counters[service] += 1
        names = [host] + sorted({n for t in group for n in t.expect.cert_names} - {host})
        pages: dict[str, Page] = {}
        tls_ports: set[int] = {443}
        plain_ports: set[int] = {80}
        for target in group:
            parts = urlsplit(target.url)
            path = parts.path or "/"
            pages.setdefault(path, _page_for(target, path))
            port = parts.port
            if port is not None:
                (tls_ports if parts.scheme in TLS_SCHEMES else plain_ports).add(port)
        if "/" not in pages:
            pages["/"] = _page_for(group[0], "/")
        sites.append(
            Site(
                host=host,
                service=service,
                ip=ip,
                cert_names=tuple(names),
                pages=tuple(pages[p] for p in sorted(pages)),
                tls_ports=tuple(sorted(tls_ports)),
                plain_ports=tuple(sorted(plain_ports)),
            )
        )
    return sites


def service_index(sites: list[Site], service: str) -> int:
    services = sorted({s.service for s in sites})
    return services.index(service)


def ips_for(sites: list[Site], domains: list[str]) -> list[str]:
    return sorted({s.ip for s in sites if any(matches(s.host, d) for d in domains)})


def dns_records(sites: list[Site]) -> dict[str, str]:
    """Name -> address for the upstream resolver."""
    records = {site.host: site.ip for site in sites}
    records[BULK_HOST] = topology.BULK_IP
    records[CONTROL_HOST] = topology.CONTROL_IP
    return records
