"""A hosts file (``0.0.0.0 ads.example.com``) as an effective configuration.

In: a hosts-format file. Out: ``HostsConfig``: each name listed is answered with the address
written (``0.0.0.0``/``127.0.0.1``/``::`` = blocked, any other address = rewritten elsewhere,
which is blocking the real site too); names are exact, no subdomains; the rest resolve normally.
"""

from __future__ import annotations

import ipaddress

from netcheck.errors import InputError
from netcheck.netaddr import host_key, url_host
from netcheck.policy.importers import ConfigDecision, Conversion, EffectiveConfig, read_config
from netcheck.policy.match import is_glob
from netcheck.policy.model import host_pattern_problem

MAX_ENTRIES = 2_000_000
_LOCAL_NAMES = frozenset(
    ("localhost", "localhost.localdomain", "local", "broadcasthost")
    + ("ip6-localhost", "ip6-loopback")
)


class HostsConfig(EffectiveConfig):
    kind = "hosts"
    layer = "dns"

    def __init__(self, file: str) -> None:
        super().__init__(file)
        self.entries: dict[str, tuple[str, int]] = {}  # host -> (address, line)
        self.skipped: list[str] = []  # warnings, each "file:line: ..."

    def decide(self, url: str) -> ConfigDecision:
        found = self.entries.get(url_host(url))
        if found is None:
            return ConfigDecision("allow", self.file, None, "not in the hosts file", True)
        address, line = found
        how = (
            "sinkhole"
            if ipaddress.ip_address(address).is_unspecified
            or ipaddress.ip_address(address).is_loopback
            else "rewrite"
        )
        return ConfigDecision("block", self.file, line, f"hosts {how} {address} line {line}")

    def convert(self) -> Conversion:
        if not self.entries:
            raise InputError("no host entries besides localhost: nothing to import", file=self.file)
        # one rule per line of the file, naming every host that line lists
        by_line: dict[int, list[str]] = {}
        for host, (_, line) in self.entries.items():
            by_line.setdefault(line, []).append(host)
        done = Conversion([], "allow", list(self.skipped))
        for line, hosts in by_line.items():
            good = []
            for host in hosts:
                problem = host_pattern_problem(host)
                if problem is None and (is_glob(host) or host.startswith(".")):
                    problem = "hosts files name exact hosts; this reads as a pattern"
                if problem:
                    done.notes.append(f"{self.file}:{line}: {host[:80]!r} left out: {problem}")
                else:
                    good.append(host)
            if good:
                done.add(
                    self.file,
                    line,
                    id=f"line-{line}",
                    match={"hosts": good},
                    action="block",
                    source=f"{self.file}:{line}",
                )
        return done


def load(path: str) -> HostsConfig:
    return parse(read_config(path, "hosts file"), path)


def parse(text: str, file: str) -> HostsConfig:
    config = HostsConfig(file)
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        address = words[0].split("%")[0]
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise InputError(
                f"expected an address first, got {words[0][:40]!r}", file=file, line=number
            ) from None
        if len(words) < 2:
            raise InputError("an address with no host name", file=file, line=number)
        for name in words[1:]:
            host = host_key(name)
            if host in _LOCAL_NAMES or host in config.entries:
                continue  # the first line naming a host is the one the resolver uses
            if len(config.entries) >= MAX_ENTRIES:
                raise InputError(f"more than {MAX_ENTRIES} entries", file=file, line=number)
            config.entries[host] = (address, number)
    return config
