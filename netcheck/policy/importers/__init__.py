"""Importers: an agency's real configs read as "effective configurations".

In: a format name (squid, pac, rpz, hosts, adblock) and a file. Out: an ``EffectiveConfig`` that
answers ``decide(url)`` exactly as that config would (allow or block, which line, how), and
converts to a netcheck ``Policy`` (``policy import``), one rule per config line with ``source``.

``layer`` says where in the path the config acts (``dns`` for RPZ and hosts files, ``proxy`` for
squid, ``browser`` for PAC and ad-block lists); comparison uses it to name the config line that
most likely caused a blocking technique.

What ``policy import`` prints always loads: an empty config is refused when read; rule ids are
made unique (one config line can give several rules); a rule the policy model refuses becomes a
warning naming its config line (``squid.conf:12: ...``) instead of a crash; an import with no
rule left, or more than the loader's ``MAX_RULES``, is refused in one line; and the YAML is
loaded back through the real loader before it is handed out.
"""

from __future__ import annotations

import datetime
import functools
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from netcheck.errors import InputError
from netcheck.netaddr import is_ip_literal
from netcheck.policy.loader import MAX_NODES, MAX_RULES
from netcheck.policy.model import Action, Network, Policy, Rule
from netcheck.policy.shape import Invalid, build, dump
from netcheck.textfile import read_text

MAX_WARNINGS = 200
MAX_CANDIDATES = 2 * MAX_RULES  # rules converted before the shadowed ones are left out
FORMATS = ("squid", "pac", "rpz", "hosts", "adblock")
Layer = Literal["dns", "proxy", "browser"]


@dataclass(frozen=True)
class ConfigDecision:
    action: Action
    file: str
    line: int | None
    how: str
    default: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass
class Conversion:
    """A config as policy parts: rules in order, the default, network scopes the rules name, and
    warnings about what could not be expressed, each starting ``file:line: ``."""

    rules: list[Rule]
    default: Action
    notes: list[str] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    values: int = 0  # hosts, URLs and patterns in the rules so far (the loader caps its values)

    def add(self, file: str, line: int, **fields: Any) -> None:
        """Append ``Rule(**fields)`` (``match`` as a dict, validated here too); a rule the
        policy model refuses becomes a warning naming ``file:line``. Past ``MAX_CANDIDATES``
        rules the config is refused at ``line``: even with every shadowed rule left out, it
        could not make a policy worth the seconds that checking each one costs."""
        self.values += sum(len(v) for v in fields.get("match", {}).values() if isinstance(v, list))
        if self.values > MAX_NODES:
            raise InputError(
                f"more than {MAX_NODES} hosts, URLs and patterns; a policy holds at most that "
                "many values: give this config to 'netcheck check --config' instead",
                file=file,
                line=line,
            )
        if len(self.rules) >= MAX_CANDIDATES:
            raise InputError(
                f"more than {MAX_CANDIDATES} rules to convert; a policy holds at most "
                f"{MAX_RULES}: give this config to 'netcheck check --config' instead",
                file=file,
                line=line,
            )
        try:
            self.rules.append(build(Rule, fields))
        except Invalid as exc:
            loc, reason = exc.problems[0]
            where = ".".join(str(p) for p in loc) or "rule"
            self.notes.append(f"{file}:{line}: cannot be a policy rule ({where}: {reason})")


class EffectiveConfig(ABC):
    """``notes``: what reading the config found that changes every answer (a squid ``include``
    naming nothing, a PAC that resolves names offline), each ``file:line: ...``: the commands
    that answer from a config (``explain``, ``check``, ``report``) print them as warnings, and
    ``import`` puts them first among its warnings. ``files``: every file read to answer (the
    config itself, squid include and acl files), as resolved paths, in the order read."""

    kind: str
    layer: Layer

    def __init__(self, file: str) -> None:
        self.file = file
        self.notes: list[str] = []
        self.files: list[str] = [os.path.realpath(file)]

    @abstractmethod
    def decide(self, url: str) -> ConfigDecision:
        """What this config does to a request for ``url``."""

    @abstractmethod
    def convert(self) -> Conversion:
        """Policy rules in order, the default, networks, and notes on what was left out."""

    @functools.cached_property
    def conversion(self) -> Conversion:
        done = self.convert()
        done.notes[:0] = self.notes
        done.rules = _drop_dead(_unique_ids(done.rules), done.notes)
        if not done.rules:
            raise InputError(
                f"no rule of this {self.kind} configuration can be a policy rule: nothing to import"
                + (f" ({done.notes[0]})" if done.notes else ""),
                file=self.file,
            )
        if len(done.rules) > MAX_RULES:
            raise InputError(
                f"{len(done.rules)} rules; a policy holds at most {MAX_RULES}: "
                f"give it to 'netcheck check --config {self.kind}:{self.file}' instead",
                file=self.file,
            )
        return done

    def warnings(self, limit: int = MAX_WARNINGS) -> list[str]:
        """What the imported policy cannot say, each naming its config line; past ``limit``,
        one last line counts the rest."""
        notes = self.conversion.notes
        shown = [_printable(note) for note in notes[:limit]]
        if len(notes) > limit:
            shown.append(f"{self.file}: {len(notes) - limit} more warnings like these")
        return shown

    def to_policy(self) -> Policy:
        done = self.conversion
        return Policy(
            organisation=f"imported from {os.path.basename(self.file)}"[:200],
            version="imported",
            date=datetime.date.today(),
            description=f"{self.kind} configuration {self.file}, as netcheck reads it"[:1000],
            default=done.default,
            networks=done.networks,
            rules=done.rules,
        )

    def to_yaml(self) -> str:
        """The policy as YAML, checked by loading it back: what is printed always loads."""
        from netcheck.policy.loader import load_policy_text

        data = dump(self.to_policy(), exclude_defaults=True)
        header = [f"# netcheck policy imported from {self.kind} configuration {self.file}"]
        header += [f"# warning: {note}" for note in self.warnings()]
        # libyaml's emitter when PyYAML has it: the Python one takes seconds on 10,000 rules
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        body = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
        text = "\n".join(_printable(h) for h in header) + "\n" + body
        try:
            load_policy_text(text, f"policy imported from {self.file}")
        except InputError as exc:
            raise InputError(
                f"cannot be imported: the policy it gives does not load ({exc})", file=self.file
            ) from None
        return text


def _unique_ids(rules: list[Rule]) -> list[Rule]:
    """Rules whose ids are unique: a repeated id gets ``-2``, ``-3``... (ids name config lines,
    and one line can give several rules)."""
    seen: set[str] = set()
    out: list[Rule] = []
    for rule in rules:
        ident, n = rule.id, 1
        while ident in seen:
            n += 1
            ident = f"{rule.id[: 80 - len(str(n)) - 1]}-{n}"
        seen.add(ident)
        out.append(rule if ident == rule.id else replace(rule, id=ident))
    return out


def _drop_dead(rules: list[Rule], notes: list[str]) -> list[Rule]:
    """The rules without those an earlier rule shadows (they can never decide anything, and
    ``policy validate`` would refuse them); each one dropped is a warning naming its line."""
    from netcheck.policy.validate import live_rules

    kept, dead = live_rules(rules)
    for rule, by in dead:
        notes.append(
            f"{rule.source or rule.id}: can never match, {by.source or by.id} comes first "
            "and covers it: left out"
        )
    return kept


def _printable(text: str) -> str:
    """One line of text: what a comment or a message may hold."""
    return "".join(c if c.isprintable() else "?" for c in text)


def read_config(path: str, what: str) -> str:
    """A config's text; an empty one (or one of blanks) is refused, saying so."""
    return read_text(path, what, allow_empty=False)


def load_config(kind: str, path: str) -> EffectiveConfig:
    """Read ``path`` as a config of format ``kind`` (one of ``FORMATS``)."""
    from netcheck.policy.importers import adblock, hosts, pac, rpz, squid

    readers = {
        "squid": squid.load,
        "pac": pac.load,
        "rpz": rpz.load,
        "hosts": hosts.load,
        "adblock": adblock.load,
    }
    reader = readers.get(kind.lower())
    if reader is None:
        raise InputError(f"unknown format {kind!r}; known: {', '.join(FORMATS)}", field="FORMAT")
    return reader(path)


def sniff_format(path: str, text: str) -> str:
    """The format of a config named on ``--config`` without ``FORMAT:``, from name and content."""
    name = os.path.basename(path).lower()
    if name.endswith((".pac", ".dat")) or "FindProxyForURL" in text:
        return "pac"
    if "http_access" in text or name.startswith("squid"):
        return "squid"
    if name.endswith((".zone", ".rpz")) or "rpz-" in text or " SOA " in text:
        return "rpz"
    if "||" in text or "[Adblock" in text:
        return "adblock"
    first = next((w for w in (ln.split() for ln in text.splitlines()) if w and w[0][0] != "#"), [])
    if "hosts" in name or (first and is_ip_literal(first[0])):
        return "hosts"
    raise InputError(
        f"cannot tell which kind of config this is; write FORMAT:PATH, FORMAT one of "
        f"{', '.join(FORMATS)} (e.g. squid:{path})",
        file=path,
        field="--config",
    )


def parse_config_spec(spec: str) -> EffectiveConfig:
    """``--config [FORMAT:]PATH``."""
    kind, sep, path = spec.partition(":")
    if sep and kind.lower() in FORMATS:
        return load_config(kind, path)
    return load_config(sniff_format(spec, read_text(spec, "config file")), spec)
