"""Message catalogues: ``messages/<lang>.yaml`` → sentences with named placeholders.

In: a language code (``es`` or ``en``). Out: a ``Messages`` object whose ``text(key, **values)``
fills a catalogue sentence with ``str.format_map``; ``count(key, n)`` picks the plural form of a
counted phrase ("1 sonda", "2 sondas"); ``service``, ``technique``, ``vendor``, ``function``,
``ability``, ``verdict``, ``kind``, ``answer`` and ``device`` turn the pipeline's codes into plain
words ("x" → "X (Twitter)", "http-blockpage" → "el proxy web muestra una página de bloqueo");
``names`` joins names the way the language does ("«a», «b» y «c»"); ``page`` names a page
and what it does ("el canal abre"), for browser mode's "what works and what does not".

Sentences are whole in the catalogue; code never joins fragments of one sentence, so a translator
sees the full sentence. Counted phrases are whole too, one per plural form: both languages have
two forms (``one`` for exactly 1, ``other`` for every other number), and a language with more
would add its rule in ``_FORM``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import yaml

from netcheck.errors import InputError

LANGUAGES = ("es", "en")
SECTIONS = (
    "services",
    "techniques",
    "devices",
    "vendors",
    "verdicts",
    "functions",
    "abilities",
    "kinds",
    "answers",
    "pages",
    "page_parts",
    "page_how",
    "text",
)
PLURAL_FORMS = ("one", "other")
_FORM: dict[str, Callable[[int], str]] = {
    "es": lambda n: "one" if n == 1 else "other",
    "en": lambda n: "one" if n == 1 else "other",
}
#: which device of the network a technique points at, in the reader's words (``devices``)
_DEVICE_OF = {"dns": "dns", "tcp": "firewall", "tls": "firewall", "proxy": "proxy"}
_DEVICE_BY_TECHNIQUE = {
    "http-blockpage": "proxy",
    "tls-mismatch": "network",
    "throttled": "network",
}


@dataclass(frozen=True)
class Messages:
    lang: str
    date_format: str
    sections: dict[str, dict[str, str]]
    plurals: dict[str, dict[str, str]]

    def text(self, key: str, **values: object) -> str:
        return self.sections["text"][key].format_map(values)

    def count(self, key: str, n: int, **values: object) -> str:
        """The plural form of ``plurals[key]`` for ``n``, with ``{n}`` and ``values`` filled."""
        form = _FORM[self.lang](n)
        return self.plurals[key][form].format_map({"n": n, **values})

    def names(self, names: Sequence[str], *, quoted: bool = True, joiner: str = "and") -> str:
        """``«a», «b» y «c»``; ``joiner`` picks the catalogue's ``list_and`` or ``list_nor``."""
        shown = [self.text("quoted", name=n) if quoted else n for n in names]
        if len(shown) <= 1:
            return "".join(shown)
        return self.text(f"list_{joiner}", first=", ".join(shown[:-1]), last=shown[-1])

    def service(self, service: str) -> str:
        """The service as people write it ("X (Twitter)"); an unknown id is shown as it is."""
        return self._word("services", service)

    def technique(self, technique: str | None, vendor: str | None = None) -> str:
        how = self._word("techniques", technique or "none")
        if vendor:
            return self.text("vendor_suffix", how=how, vendor=self.vendor(vendor))
        return how

    def device(self, technique: str | None) -> str:
        """The device to look at for a technique ("el servidor DNS", "el proxy web")."""
        code = technique or ""
        family = "proxy" if code.startswith("proxy") else code.split("-", 1)[0]
        key = _DEVICE_BY_TECHNIQUE.get(code) or _DEVICE_OF.get(family, "network")
        return self._word("devices", key)

    def vendor(self, vendor: str) -> str:
        return self.sections["vendors"].get(vendor, vendor)

    def page(self, service: str, function: str) -> str:
        """A page and what it does, for browser mode's sentences ("el canal abre")."""
        pages = self.sections["pages"]
        return pages.get(f"{service}.{function}") or pages.get(function) or pages["default"]

    def function(self, function: str) -> str:
        return self._word("functions", function)

    def ability(self, ability: str) -> str:
        return self._word("abilities", ability)

    def verdict(self, verdict: str) -> str:
        return self._word("verdicts", verdict)

    def kind(self, kind: str) -> str:
        return self._word("kinds", kind)

    def answer(self, answer: str) -> str:
        return self._word("answers", answer)

    def date(self, when: datetime) -> str:
        return when.strftime(self.date_format)

    def _word(self, section: str, code: str) -> str:
        return self.sections[section].get(code, code)


@functools.cache
def messages(lang: str) -> Messages:
    if lang not in LANGUAGES:
        raise InputError(
            f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}", field="--lang"
        )
    raw = resources.files("netcheck.report").joinpath("messages", f"{lang}.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(raw)
    sections = {name: {str(k): str(v) for k, v in data[name].items()} for name in SECTIONS}
    plurals = {
        str(key): {form: str(forms[form]) for form in PLURAL_FORMS}
        for key, forms in data["plurals"].items()
    }
    return Messages(
        lang=lang, date_format=str(data["date_format"]), sections=sections, plurals=plurals
    )
