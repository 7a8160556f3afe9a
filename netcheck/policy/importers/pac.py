"""A PAC file as an effective configuration: which hosts go DIRECT and which through a proxy.

In: a PAC script, evaluated by a real PAC engine (pypac's ``PACFile`` on dukpy). Out:
``PacConfig``. A PAC file routes rather than forbids: the decision is ``allow`` with the route
(``DIRECT``, ``PROXY host:port``...), except that a route whose every hop is a black hole
(``PROXY 0.0.0.0:...``, ``127.0.0.1:...``, ``localhost``, port 0 or 9) is how PAC files block,
and reads ``block``. The line named is the ``return`` whose literal text is the returned string;
when the string is built at run time, the ``FindProxyForURL`` line.

As browsers do, https URLs are handed to ``FindProxyForURL`` without path and query. The script
may call ``dnsResolve``/``isInNet``; those resolve through the system resolver, so they are only
safe where names resolve locally.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.netaddr import url_host
from netcheck.pacjs import PacError, SandboxedPac
from netcheck.policy.importers import ConfigDecision, EffectiveConfig
from netcheck.policy.model import Action, Match, Rule
from netcheck.targets import catalogue
from netcheck.textfile import read_text

_BLACKHOLE_HOSTS = ("0.0.0.0", "localhost", "[::]", "[::1]")


class PacConfig(EffectiveConfig):
    kind = "pac"
    layer = "browser"

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        try:
            self.pac = SandboxedPac(text)  # a worker process: a looping script cannot hang us
        except PacError as exc:
            raise InputError(f"not a PAC script: {str(exc)[:200]}", file=file) from None

    def route(self, url: str) -> str:
        parts = urlsplit(url)
        host = url_host(url)
        if parts.scheme == "https":
            url = f"https://{parts.netloc}/"
        try:
            return str(self.pac.find_proxy_for_url(url, host)).strip()
        except PacError as exc:  # a script error at run time is the config's fault, not ours
            raise InputError(
                f"FindProxyForURL failed for {url}: {str(exc)[:200]}", file=self.file
            ) from None

    def decide(self, url: str) -> ConfigDecision:
        route = self.route(url)
        line = self._line_of(route)
        action: Action = "block" if _blackhole(route) else "allow"
        return ConfigDecision(action, self.file, line, f"PAC returns {route!r} (line {line})")

    def _line_of(self, route: str) -> int:
        for quote in ('"', "'"):
            needle = f"{quote}{route}{quote}"
            index = self.text.find(needle)
            if index >= 0:
                return self.text.count("\n", 0, index) + 1
        found = re.search(r"FindProxyForURL", self.text)
        return self.text.count("\n", 0, found.start()) + 1 if found else 1

    def rules(self) -> tuple[list[Rule], Action, list[str]]:
        # JavaScript cannot be turned into patterns: record what it does to the catalogue's hosts
        rules: list[Rule] = []
        seen: set[str] = set()
        for target in catalogue.builtin_targets():
            host = url_host(target.url)
            if host in seen:
                continue
            seen.add(host)
            decision = self.decide(target.url)
            rules.append(
                Rule(
                    id=f"{host}",
                    description=decision.how,
                    match=Match(hosts=[host]),
                    action=decision.action,
                    source=f"{self.file}:{decision.line}",
                )
            )
        return rules, "allow", ["the script itself; rules list what it returns for catalogue hosts"]


def _blackhole(route: str) -> bool:
    hops = [hop.strip() for hop in route.split(";") if hop.strip()]
    if not hops:
        return False
    for hop in hops:
        kind, _, where = hop.partition(" ")
        if kind.upper() == "DIRECT":
            return False
        host, _, port = where.strip().rpartition(":")
        if not (host.startswith(_BLACKHOLE_HOSTS) or host.startswith("127.") or port in ("0", "9")):
            return False
    return True


def load(path: str) -> PacConfig:
    text = read_text(path, "PAC file")
    if "FindProxyForURL" not in text:
        raise InputError("no FindProxyForURL function: not a PAC file", file=path)
    return PacConfig(path, text)
