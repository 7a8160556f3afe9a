"""What to ask IT about targets that do not work: the line that *blocks*, never the rule that
allows.

In: the latest rows (``state.latest``, judged when a policy was given) of targets that are
blocked or slowed, and a ``Messages``. Out: ``advice`` — sentences in the reader's language, one
per thing to change, each naming the hosts it covers; ``requirement`` — the speed a policy rule
asks of a target on its network (for the goodput chart and the advice on throttling).

Which sentence, by what the records and the policy say:
- a real config line blamed (``judge`` with ``--config``): "squid.conf:25 (acl redes_sociales)
  bloquea www.youtube.com";
- the policy's own rule blocks it: that rule, as a deliberate block (ask for an exception); but
  when the policy also says the official channel must work there, that rule is the one to fix;
- the policy allows it (self-blocking) or says nothing (default): the allow rule is quoted as
  the permission, and IT is asked to find the blocking rule in the device the technique points
  at (the DNS server, the firewall, the web proxy);
- slowed: what limits the speed, with the rule's requirement when there is one;
- a page that opens but misbehaves (browser mode's ``degraded``): the hosts it needed and the
  network blocked, and the device their technique points at — the page's own host is not the
  one to unblock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from netcheck.models import Target
from netcheck.netaddr import url_host
from netcheck.policy.decide import decide, request_for_target
from netcheck.policy.loader import PolicyDoc, resolve_network
from netcheck.report.i18n import Messages
from netcheck.report.state import file_name, page_failures

_ACL = re.compile(r"\bacl (\S+)")


@dataclass(frozen=True)
class Need:
    mbps: float
    rule: str
    where: str


def advice(
    rows: Sequence[Mapping[str, Any]], msgs: Messages, needs: Mapping[int, Need] | None = None
) -> list[str]:
    """One sentence per (what to change), hosts gathered; ``needs``: row_id → requirement."""
    hosts: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        needed = page_failures(row)
        pairs: list[tuple[tuple[str, ...], str]]
        if needed:
            ask = "ask_dependency", "device"
            pairs = [((*ask, msgs.device(f.technique)), f.host) for f in needed]
        else:
            key = _key(row, msgs, (needs or {}).get(int(row.get("row_id", -1))))
            pairs = [(key, url_host(str(row["url"])) or str(row["url"]))]
        for key, host in pairs:
            if host not in hosts.setdefault(key, []):
                hosts[key].append(host)
    out = []
    for key, names in hosts.items():
        name, *fields = key
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        out.append(msgs.text(name, hosts=msgs.names(sorted(names), quoted=False), **values))
    return sorted(out)


def _key(row: Mapping[str, Any], msgs: Messages, need: Need | None) -> tuple[str, ...]:
    """The catalogue key of the sentence and its values, flattened (hashable, for grouping)."""
    technique = _text(row.get("technique"))
    config = _text(row.get("config_line"))
    if config is not None:
        place = _config_where(config)
        acl = _ACL.search(_text(row.get("config_how")) or "")
        if acl:
            return ("ask_config_acl", "where", place, "acl", f"acl {acl.group(1)}")
        return ("ask_config", "where", place)
    if row["verdict"] == "degraded" or technique == "throttled":
        if need is not None:
            mbps = f"{need.mbps:g}"
            return ("ask_throttled_need", "need", mbps, "rule", need.rule, "where", need.where)
        return ("ask_throttled",)
    device = msgs.device(technique)
    rule = _text(row.get("rule"))
    if rule is None:
        return ("ask_no_policy", "device", device)
    place = _rule_where(row)
    if row.get("decision") == "block":
        if row.get("official_channel"):
            return ("ask_policy_contradicts", "rule", rule, "where", place)
        return ("ask_policy_blocks", "rule", rule, "where", place)
    if rule == "default":
        return ("ask_find_blocker_default", "device", device, "where", place)
    return ("ask_find_blocker", "device", device, "rule", rule, "where", place)


def _rule_where(row: Mapping[str, Any]) -> str:
    name = file_name(row.get("rule_file") or "")
    line = row.get("rule_line")
    return name if line is None else f"{name}:{int(line)}"


def _config_where(config_line: str) -> str:
    """``/etc/squid/squid.conf:25`` → ``squid.conf:25``."""
    path, sep, line = config_line.rpartition(":")
    if sep and line.isdigit():
        return f"{file_name(path)}:{line}"
    return file_name(config_line)


def requirement(row: Mapping[str, Any], policy: PolicyDoc | None) -> Need | None:
    """The download speed the policy asks of this target on this network, if any."""
    if policy is None:
        return None
    target = Target(
        url=str(row["url"]),
        service=str(row["service"]),
        function=str(row["function"]),
        official=bool(row["official"]),
        category=_text(row.get("category")),
    )
    network = resolve_network(policy.policy, _text(row.get("network")))
    decision = decide(policy, request_for_target(target, network), official=target.official)
    need = decision.requirements
    if need is None or need.min_download_mbps is None or decision.rule is None:
        return None
    place = file_name(decision.file) + (f":{decision.line}" if decision.line else "")
    return Need(mbps=float(need.min_download_mbps), rule=decision.rule, where=place)


def _text(value: object) -> str | None:
    """A cell as text: missing (None, NaN, NA) is None."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
