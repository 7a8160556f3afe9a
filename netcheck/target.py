"""What a probe is asked to measure: a ``Target`` (URL, service, function) and its ``Expect``.

In: nothing (these are the shapes). Out: frozen stdlib dataclasses that the catalogue and
targets files fill (``netcheck.targets``), measurement and classification read, and results
carry (``models.Result.target``).

They are plain dataclasses, not pydantic models, so that the commands that only read targets
or policies (``targets list``, ``policy validate``) start without pydantic (bench/startup.py).
Pydantic still validates them inside a ``Result``: it reads stdlib dataclasses field by field,
``__pydantic_config__`` refuses unknown keys there, and each field's ``metadata`` description
goes into the generated JSON schema (``python -m netcheck.schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

FUNCTIONS = ("view", "official_channel", "login", "admin", "media", "api", "live_ingest", "upload")


def _text(description: str) -> dict[str, str]:
    return {"description": description}


@dataclass(frozen=True, slots=True)
class Expect:
    """What the real service shows, usable without a control vantage."""

    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    title_contains: list[str] = field(default_factory=list, metadata=_text("any one must appear"))
    body_contains: list[str] = field(default_factory=list, metadata=_text("any one must appear"))
    cert_names: list[str] = field(
        default_factory=list,
        metadata=_text("DNS names (wildcards allowed) the real certificate must cover"),
    )


@dataclass(frozen=True, slots=True)
class Target:
    __pydantic_config__: ClassVar[dict[str, str]] = {"extra": "forbid"}

    url: str
    service: str
    function: str
    official: bool = False
    category: str | None = None
    hosts_note: str | None = field(
        default=None, metadata=_text("how sure the catalogue is of this host")
    )
    expect: Expect = field(default_factory=Expect)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        """A target from its JSON form (``as_json``'s), for data netcheck wrote or ships; an
        unknown key is a ``TypeError``. Records from users are read through ``models.Result``."""
        expect = data.get("expect")
        return cls(**{**data, "expect": Expect(**expect) if expect else Expect()})

    def as_json(self, *, exclude_defaults: bool = False) -> dict[str, Any]:
        """The target as JSON data (the shape of ``Result.target``); ``exclude_defaults`` leaves
        out what equals its default, as a targets file would."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Expect):
                if exclude_defaults and value == Expect():
                    continue
                value = {
                    e.name: list(getattr(value, e.name))
                    for e in fields(value)
                    if not (exclude_defaults and not getattr(value, e.name))
                }
            elif exclude_defaults and f.default == value:
                continue
            out[f.name] = value
        return out
