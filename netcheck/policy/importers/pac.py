"""A PAC file as an effective configuration: which hosts go DIRECT and which through a proxy.

In: a PAC script, evaluated by a real PAC engine (pypac's ``PACFile`` on dukpy). Out:
``PacConfig``. A PAC file routes rather than forbids: the decision is ``allow`` with the route
(``DIRECT``, ``PROXY host:port``...), except that a route whose every hop is a black hole
(``PROXY 0.0.0.0:...``, ``127.0.0.1:...``, ``localhost``, port 0 or 9) is how PAC files block,
and reads ``block``. The line named is the ``return`` whose literal text is the returned string;
when the string is built at run time, the ``FindProxyForURL`` line. An answer that is not a
string (a number, ``undefined``) or not a PAC result (``parse_pac_result``) is an
``InputError`` at that line, never read as DIRECT.

The script gets ``BUDGET`` seconds in all, loading and every answer included (``pacjs``): the
catalogue's hosts asked of a script that answers each just inside the per-call deadline would
otherwise take minutes. Past it, the command stops with an ``InputError`` naming the file.

As browsers do, https URLs are handed to ``FindProxyForURL`` without path and query. Reading a
config is offline: the script's name resolution always fails (``pacjs`` with ``resolve=False``:
``dnsResolve`` null, ``isResolvable`` false, ``isInNet`` on a name false, on an IP literal
computed), and a script that calls one of ``DNS_FUNCTIONS`` gets a warning naming the first
line that does: its decisions were computed without name resolution.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.netaddr import url_host
from netcheck.pacjs import PacError, ProxyChoice, SandboxedPac, parse_pac_result
from netcheck.policy.importers import ConfigDecision, Conversion, EffectiveConfig, read_config
from netcheck.policy.model import Action
from netcheck.targets import catalogue

BUDGET = 4.0
DNS_FUNCTIONS = (
    "dnsResolve",
    "dnsResolveEx",
    "isResolvable",
    "isResolvableEx",
    "isInNet",
    "isInNetEx",
    "myIpAddress",
    "myIpAddressEx",
)
_DNS_CALL = re.compile(r"\b(" + "|".join(DNS_FUNCTIONS) + r")\s*\(")


class PacConfig(EffectiveConfig):
    kind = "pac"
    layer = "browser"

    def __init__(self, file: str, text: str) -> None:
        super().__init__(file)
        self.text = text
        found = _DNS_CALL.search(text)
        if found:
            line = text.count("\n", 0, found.start()) + 1
            self.notes.append(
                f"{file}:{line}: {found.group(1)} needs name resolution, which reading a config "
                "never does (no packet is sent): decisions are computed as if no name resolves"
            )
        try:
            # a worker process: a looping script cannot hang us, nor a slow one for long; and
            # one that never resolves a name: reading a config sends no packet
            self.pac = SandboxedPac(text, budget=BUDGET, resolve=False)
        except PacError as exc:
            where = exc.line
            if where is None and "defines no function" in str(exc):
                where = self._function_line()
            message = f"not a PAC script: {str(exc)[:200]}"
            raise InputError(message, file=file, line=where) from None

    def route(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            raise InputError(f"not a URL: {url[:80]!r}", field="URL") from None
        host = url_host(url)
        if parts.scheme == "https":
            url = f"https://{parts.netloc}/"
        try:
            return str(self.pac.find_proxy_for_url(url, host)).strip()
        except PacError as exc:  # a script error at run time is the config's fault, not ours
            raise InputError(
                f"FindProxyForURL failed for {url}: {str(exc)[:200]}", file=self.file, line=exc.line
            ) from None

    def decide(self, url: str) -> ConfigDecision:
        route = self.route(url)
        line = self._line_of(route)
        try:
            choices = parse_pac_result(route)
        except PacError as exc:
            message = f"FindProxyForURL for {url[:80]}: {exc}"
            raise InputError(message, file=self.file, line=line) from None
        action: Action = "block" if _blackhole(choices) else "allow"
        return ConfigDecision(action, self.file, line, f"PAC returns {route!r} (line {line})")

    def _line_of(self, route: str) -> int:
        for quote in ('"', "'"):
            needle = f"{quote}{route}{quote}"
            index = self.text.find(needle)
            if index >= 0:
                return self.text.count("\n", 0, index) + 1
        return self._function_line()

    def _function_line(self) -> int:
        found = re.search(r"FindProxyForURL", self.text)
        return self.text.count("\n", 0, found.start()) + 1 if found else 1

    def convert(self) -> Conversion:
        # JavaScript cannot be turned into patterns: record what it does to the catalogue's hosts
        note = (
            "the script's logic is not a policy: the rules say what it returns for catalogue hosts"
        )
        done = Conversion([], "allow", [f"{self.file}:{self._function_line()}: {note}"])
        seen: set[str] = set()
        for target in catalogue.builtin_targets():
            host = url_host(target.url)
            if host in seen:
                continue
            seen.add(host)
            decision = self.decide(target.url)
            done.add(
                self.file,
                decision.line or 1,
                id=host,
                description=decision.how[:200],
                match={"hosts": [host]},
                action=decision.action,
                source=f"{self.file}:{decision.line}",
            )
        return done


def _blackhole(choices: list[ProxyChoice]) -> bool:
    """Every hop goes nowhere: a proxy on an unspecified or loopback address, or port 0 or 9."""
    for choice in choices:
        if choice.direct or choice.host is None:
            return False
        host = choice.host.lower()
        if not (
            host in ("0.0.0.0", "localhost", "::", "::1")
            or host.startswith("127.")
            or choice.port in (0, 9)
        ):
            return False
    return True


def load(path: str) -> PacConfig:
    text = read_config(path, "PAC file")
    if "FindProxyForURL" not in text:
        raise InputError("no FindProxyForURL function: not a PAC file", file=path)
    return PacConfig(path, text)
