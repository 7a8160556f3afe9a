"""Importers: an agency's real configs read as "effective configurations".

In: a format name (squid, pac, rpz, hosts, adblock) and a file. Out: an ``EffectiveConfig`` that
answers ``decide(url)`` exactly as that config would (allow or block, which line, how), and
converts to a netcheck ``Policy`` (``policy import``), one rule per config line with ``source``.

``layer`` says where in the path the config acts (``dns`` for RPZ and hosts files, ``proxy`` for
squid, ``browser`` for PAC and ad-block lists); comparison uses it to name the config line that
most likely caused a blocking technique.
"""

from __future__ import annotations

import datetime
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import yaml

from netcheck.errors import InputError
from netcheck.policy.model import Action, Policy, Rule

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


class EffectiveConfig(ABC):
    kind: str
    layer: Layer
    file: str

    @abstractmethod
    def decide(self, url: str) -> ConfigDecision:
        """What this config does to a request for ``url``."""

    @abstractmethod
    def rules(self) -> tuple[list[Rule], Action, list[str]]:
        """Policy rules in order, the default action, and notes on what could not be expressed."""

    def to_policy(self) -> Policy:
        rules, default, _ = self.rules()
        return Policy(
            organisation=f"imported from {os.path.basename(self.file)}",
            version="imported",
            date=datetime.date.today(),
            description=f"{self.kind} configuration {self.file}, as netcheck reads it",
            default=default,
            rules=rules,
        )

    def to_yaml(self) -> str:
        _, _, notes = self.rules()
        data = self.to_policy().model_dump(mode="json", exclude_defaults=True)
        header = [f"# netcheck policy imported from {self.kind} configuration {self.file}"]
        header += [f"# not expressible as a policy rule: {note}" for note in notes]
        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(header) + "\n" + body


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
    return "hosts"


def parse_config_spec(spec: str) -> EffectiveConfig:
    """``--config [FORMAT:]PATH``."""
    from netcheck.textfile import read_text

    kind, sep, path = spec.partition(":")
    if sep and kind.lower() in FORMATS:
        return load_config(kind, path)
    return load_config(sniff_format(spec, read_text(spec, "config file")), spec)
