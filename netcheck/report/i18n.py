"""Message catalogues: ``messages/<lang>.yaml`` → sentences with named placeholders.

In: a language code (``es`` or ``en``). Out: a ``Messages`` object whose ``text(key, **values)``
fills a catalogue sentence with ``str.format_map``, and whose ``technique``, ``vendor``,
``function``, ``verdict``, ``kind`` and ``answer`` turn the pipeline's codes into plain words
("http-blockpage" → "el proxy web muestra una página de bloqueo"). Sentences are whole in the
catalogue; code never joins fragments of one sentence, so a translator sees the full sentence.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import yaml

from netcheck.errors import InputError

LANGUAGES = ("es", "en")
SECTIONS = (
    "techniques",
    "vendors",
    "verdicts",
    "functions",
    "abilities",
    "kinds",
    "answers",
    "text",
)


@dataclass(frozen=True)
class Messages:
    lang: str
    date_format: str
    sections: dict[str, dict[str, str]]

    def text(self, key: str, **values: object) -> str:
        return self.sections["text"][key].format_map(values)

    def technique(self, technique: str | None, vendor: str | None = None) -> str:
        how = self._word("techniques", technique or "none")
        if vendor:
            return self.text("vendor_suffix", how=how, vendor=self.vendor(vendor))
        return how

    def vendor(self, vendor: str) -> str:
        return self.sections["vendors"].get(vendor, vendor)

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
    return Messages(lang=lang, date_format=str(data["date_format"]), sections=sections)
