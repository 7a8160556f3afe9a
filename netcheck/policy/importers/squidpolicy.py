"""A parsed squid.conf turned into policy parts: one rule per ``http_access`` line, ``src`` ACLs
as network scopes.

In: a ``SquidConfig`` (``squid.py`` has parsed and checked it). Out: a ``Conversion``: rules in
the order squid reads them, the default squid applies when no line matches, the networks the
rules are scoped to, and a warning naming ``squid.conf:LINE`` for every line or ACL the policy
cannot say. What squid decides from where a request comes is kept, never widened:

- a ``src`` ACL becomes a network of the policy (id = the ACL's name, ``cidrs`` = its
  addresses, a range summarised into CIDR blocks) and the rule is scoped to it, so a probe
  whose ``--network`` is one of those addresses meets the rule and others do not; ``src all``
  (or the built-in ``all``) is no scope at all;
- what cannot be a scope (``!localnet``, two different ``src`` ACLs ANDed on one line) is an
  ``InputError`` naming the line: dropping the condition would make the rule apply to everyone;
- other client ACLs (``proxy_auth``, ``time``, ``srcdomain``...) have no policy counterpart: the
  rule is kept for every client and a warning says so.
"""

from __future__ import annotations

import os
import re
from typing import Any

from netcheck.errors import InputError
from netcheck.policy.importers import Conversion
from netcheck.policy.importers.squid import (
    CLIENT_TYPES,
    DEST_TYPES,
    AccessLine,
    Acl,
    SquidConfig,
    src_networks,
)
from netcheck.policy.model import Action, Network

MAX_CIDRS = 4096
_NOT_ID = re.compile(r"[^A-Za-z0-9_.:-]+")
_GLOB = re.compile(r"[*?\[\]]")


def _id(file: str) -> str:
    """A rule id part naming an include file (``conf.d/x.conf`` -> ``x.conf``)."""
    return (_NOT_ID.sub("-", os.path.basename(file)).strip("-_.:") or "include")[:60]


def convert(config: SquidConfig) -> Conversion:
    if not config.access:
        raise InputError(
            "no http_access line (squid denies every request): nothing to import", file=config.file
        )
    bumped = any(b.action in ("bump", "client-first", "server-first") for b in config.bump)
    default: Action = "block" if config.access[-1].action == "allow" else "allow"
    done = Conversion([], default)
    networks: dict[str, Network] = {}  # acl name -> network
    for line in config.access:
        scope = _scope(config, line, networks)
        match, why = _as_match(config, line, bumped, done.notes)
        if match is None:
            done.notes.append(f"{line.file}:{line.line}: http_access {line.action} left out: {why}")
            continue
        done.add(
            line.file,
            line.line,
            id=f"line-{line.line}" if line.file == config.file else f"{_id(line.file)}-{line.line}",
            match=match,
            networks=scope,
            action="allow" if line.action == "allow" else "block",
            source=f"{line.file}:{line.line}",
        )
    done.networks = list(networks.values())
    return done


def _scope(config: SquidConfig, line: AccessLine, networks: dict[str, Network]) -> list[str]:
    """The network ids the line's ``src`` ACLs restrict it to (empty = every client)."""
    scoped: list[Acl] = []
    for term in line.terms:
        acl = config.acls[term.acl]
        if acl.type != "src":
            continue
        if term.negated:
            raise InputError(
                f"!{acl.name}: a policy network scope cannot say 'every client but these "
                "addresses'; write the allowed networks as their own src acl",
                file=line.file,
                line=line.line,
                field="http_access",
            )
        if not any(v.text == "all" for v in acl.values):
            scoped.append(acl)
    if len({acl.name for acl in scoped}) > 1:
        names = ", ".join(dict.fromkeys(acl.name for acl in scoped))
        raise InputError(
            f"src acls {names} ANDed on one line: a policy rule is scoped to any of its "
            "networks, not to where they overlap; define one src acl for the overlap",
            file=line.file,
            line=line.line,
            field="http_access",
        )
    if not scoped:
        return []
    acl = scoped[0]
    if acl.name not in networks:
        networks[acl.name] = _network(config, acl, networks)
    return [networks[acl.name].id]


def _network(config: SquidConfig, acl: Acl, taken: dict[str, Network]) -> Network:
    cidrs: list[str] = []
    for value in acl.values:
        cidrs += [str(net) for net in src_networks(value.text) if str(net) not in cidrs]
        if len(cidrs) > MAX_CIDRS:
            raise InputError(
                f"src acl {acl.name} names more than {MAX_CIDRS} address blocks",
                file=value.file or config.file,
                line=value.line,
                field=f"acl {acl.name}",
            )
    ident = (_NOT_ID.sub("-", acl.name).strip("-_.:") or "src")[:70]
    if not ident[0].isalnum():
        ident = "src-" + ident
    used = {n.id for n in taken.values()}
    base, n = ident, 1
    while ident in used:
        n += 1
        ident = f"{base}-{n}"
    where = f"line {acl.line}" if acl.line else "predefined"
    return Network(id=ident, name=f"squid src acl {acl.name} ({where})"[:200], cidrs=cidrs)


def _as_match(
    config: SquidConfig, line: AccessLine, bumped: bool, notes: list[str]
) -> tuple[dict[str, Any] | None, str]:
    crit: dict[str, list[str]] = {"hosts": [], "host_regex": [], "url_regex": [], "urls": []}
    dest_acls = 0
    for term in line.terms:
        acl = config.acls[term.acl]
        if acl.type == "src":
            continue  # a scope, see _scope
        if acl.type in CLIENT_TYPES:
            if term.negated:
                return None, f"negated client acl !{acl.name} ({acl.type})"
            notes.append(
                f"{line.file}:{line.line}: acl {acl.name} ({acl.type}) has no policy "
                "counterpart: the rule is kept for every client"
            )
            continue
        if acl.type == "method" and acl.values and {v.text for v in acl.values} == {"CONNECT"}:
            crit["urls"].append("http://*" if term.negated else "https://*")
            continue
        if term.negated or acl.type not in DEST_TYPES[:4]:
            return None, f"{'!' if term.negated else ''}{acl.name} ({acl.type})"
        dest_acls += 1
        if dest_acls > 1:
            return None, "two destination acls ANDed"
        before = sum(len(v) for v in crit.values())
        for v in acl.values:
            if acl.type in ("dstdomain", "ssl::server_name"):
                if _GLOB.search(v.text):
                    # squid compares dstdomain literally, and no host name holds * ? [ ]
                    where = f"{v.file or config.file}:{v.line}"
                    notes.append(
                        f"{where}: acl {acl.name} value {v.text[:80]!r} matches no host (squid "
                        "compares it literally, not as a pattern): left out"
                    )
                    continue
                crit["hosts"].append(v.text.lower())
            elif acl.type == "dstdom_regex":
                crit["host_regex"].append(("(?i)" if v.ignore_case else "") + v.text)
            else:
                crit["url_regex"].append(("(?i)" if v.ignore_case else "") + v.text)
        if not term.negated and sum(len(v) for v in crit.values()) == before:
            return None, f"acl {acl.name} matches no request"
    if bumped and crit["urls"] == ["http://*"]:
        crit["urls"] = []  # a bumped https request is a GET too
    if len(set(crit["urls"])) > 1:
        return None, "CONNECT and !CONNECT on one line"
    kept: dict[str, Any] = {k: v for k, v in crit.items() if v}
    return (kept or {"all": True}), ""
