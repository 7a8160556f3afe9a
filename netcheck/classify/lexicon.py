"""The multilingual block lexicon: how strongly a page's words say "a filter stopped you".

In: a page's title and body (HTML or text). Out: a ``CueScore`` — the weighted phrases found,
the language they lean to, and whether they add up to "strong" — and ``fold``, the text
normalisation every page check shares. Pure. The phrases are data (``netcheck/data/cues.yaml``):
families of wording, not one vendor's sentence, so a filter never seen before still says them.

Matching: folded text (lowercase, no accents or markup, Arabic letter variants unified). Phrases
in scripts written with spaces match as whole words; a word ending in ``*`` matches as a stem
(``engellen*`` for Turkish "engellendi", "engellenmiştir"). Phrases in scripts written without
spaces between words (Chinese, Japanese, Thai, Korean syllable blocks) match anywhere, spaces
ignored. Phrases are looked up by their first word, so a page is scanned once whatever the size
of the lexicon.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import re
import unicodedata
from dataclasses import dataclass

import yaml

#: characters of a page that are read: block pages are small, real pages are not judged by words
MAX_SCAN = 64 * 1024
#: characters of folded visible text the lexicon reads
MAX_TEXT = 16 * 1024

_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,2000}>")
# Arabic yeh and kaf are written two ways across Arabic, Persian and Urdu text
_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u200c": " ", "\u2019": "'"})
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _drop_scripts(text: str) -> str:
    """Remove <script>/<style> blocks in one linear pass (a regex would go quadratic on
    hostile pages full of unclosed tags)."""
    out, pos = [], 0
    while (m := _BLOCK_OPEN.search(text, pos)) is not None:
        out.append(text[pos : m.start()])
        closing = re.compile("</" + m.group(1), re.IGNORECASE).search(text, m.end())
        close = text.find(">", closing.end()) if closing is not None else -1
        if close < 0:
            return " ".join(out)
        out.append(" ")
        pos = close + 1
    out.append(text[pos:])
    return "".join(out)


@functools.lru_cache(maxsize=16)  # one page is folded by the lexicon, lookalikes and shape
def fold(text: str) -> str:
    """Lowercase, strip accents and markup, unify apostrophes and letter variants, collapse
    whitespace. Casefolding comes first so that Turkish "İ" loses its dot with the accents."""
    text = html.unescape(_TAG.sub(" ", _drop_scripts(text[:MAX_SCAN]))).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.translate(_LETTERS).replace("\u2018", "'").split())


@dataclass(frozen=True)
class CueScore:
    score: int
    phrases: tuple[str, ...]
    language: str | None
    threshold: int
    headline: bool = False  # a cue in the title or a heading: block pages say it up front
    top: int = 0  # the heaviest cue's weight

    @property
    def strong(self) -> bool:
        return self.score >= self.threshold

    @property
    def decisive(self) -> bool:
        """Strong, and said where a block page says it: in a heading, or in a sentence only a
        block page says. Help pages and news that mention blocking in passing are not."""
        return self.strong and (self.headline or self.top >= 3)


@dataclass(frozen=True)
class _Cue:
    phrase: str
    weight: int
    lang: str
    words: tuple[str, ...]  # for spaced scripts; a word ending in "*" is a stem


@dataclass(frozen=True)
class _Lexicon:
    threshold: int
    weak_cap: int
    by_first: dict[str, tuple[_Cue, ...]]  # first word -> spaced cues, longest first
    stems: dict[str, tuple[_Cue, ...]]  # first two letters -> cues whose first word is a stem
    unspaced: tuple[tuple[str, _Cue], ...]  # (phrase without spaces, cue), longest first


_WORD = re.compile(r"[\w'-]+")


def _word_matches(pattern: str, token: str) -> bool:
    if pattern.endswith("*") and len(pattern) > 1:
        return token.startswith(pattern[:-1])
    return token == pattern


@functools.lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    ref = importlib.resources.files("netcheck") / "data" / "cues.yaml"
    data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    cues: dict[str, _Cue] = {}
    for lang, weights in data["lexicon"].items():
        for weight, phrases in weights.items():
            for raw in phrases:
                phrase = fold(str(raw))
                words = tuple(phrase.split())
                cues.setdefault(phrase, _Cue(phrase, int(weight), str(lang), words))
    ordered = sorted(cues.values(), key=lambda c: (-len(c.words), -len(c.phrase)))
    by_first: dict[str, list[_Cue]] = {}
    stems: dict[str, list[_Cue]] = {}
    unspaced: list[tuple[str, _Cue]] = []
    for cue in ordered:
        if _UNSPACED.search(cue.phrase):
            unspaced.append(("".join(cue.phrase.split()), cue))
        elif cue.words[0].endswith("*"):
            stems.setdefault(cue.words[0][:2], []).append(cue)
        else:
            by_first.setdefault(cue.words[0], []).append(cue)
    unspaced.sort(key=lambda pc: -len(pc[0]))
    return _Lexicon(
        int(data["threshold"]),
        int(data["weak_cap"]),
        {k: tuple(v) for k, v in by_first.items()},
        {k: tuple(v) for k, v in stems.items()},
        tuple(unspaced),
    )


def _spaced(lex: _Lexicon, text: str) -> list[_Cue]:
    """Cues of spaced scripts, scanning words once; a phrase inside a longer one found at the
    same place is not counted again."""
    tokens = _WORD.findall(text.replace("*", " "))
    found: dict[str, _Cue] = {}
    i = 0
    while i < len(tokens):
        candidates = [*lex.by_first.get(tokens[i], ()), *lex.stems.get(tokens[i][:2], ())]
        best: _Cue | None = None
        for cue in candidates:
            n = len(cue.words)
            if (best is None or n > len(best.words)) and all(
                i + k < len(tokens) and _word_matches(w, tokens[i + k])
                for k, w in enumerate(cue.words)
            ):
                best = cue
        if best is None:
            i += 1
            continue
        found.setdefault(best.phrase, best)
        i += len(best.words)
    return list(found.values())


def _unspaced(lex: _Lexicon, text: str) -> list[_Cue]:
    packed = "".join(text.split())
    found = []
    for phrase, cue in lex.unspaced:
        if phrase in packed:
            found.append(cue)
            packed = packed.replace(phrase, "|")  # a shorter phrase inside it is not counted
    return found


def generic_cues(body: str | None, title: str | None = None) -> CueScore:
    """Score vendor-neutral block wording in the title and body text."""
    lex = _lexicon()
    text = fold((title or "") + " \n " + (body or ""))[:MAX_TEXT]
    found = _spaced(lex, text)
    if _UNSPACED.search(text):
        found += _unspaced(lex, text)
    strong = sum(c.weight for c in found if c.weight > 1)
    weak = sum(c.weight for c in found if c.weight <= 1)
    by_lang: dict[str, int] = {}
    for c in found:
        by_lang[c.lang] = by_lang.get(c.lang, 0) + c.weight
    language = max(by_lang, key=lambda k: by_lang[k]) if by_lang else None
    return CueScore(
        strong + min(weak, lex.weak_cap),
        tuple(c.phrase for c in found),
        language,
        lex.threshold,
        headline=bool(found) and _says_blocked(lex, _headline(title, body)),
        top=max((c.weight for c in found), default=0),
    )


_HEADING = re.compile(r"<h[1-3][^>]{0,200}>(.{0,400}?)</h[1-3]", re.IGNORECASE | re.DOTALL)


def _headline(title: str | None, body: str | None) -> str:
    heads = [m.group(1) for m in _HEADING.finditer((body or "")[:MAX_TEXT])][:6]
    return " \n ".join([title or "", *heads])


def _says_blocked(lex: _Lexicon, text: str) -> bool:
    folded = fold(text)
    return bool(_spaced(lex, folded) or (_UNSPACED.search(folded) and _unspaced(lex, folded)))


def title_says_blocked(title: str | None) -> bool:
    """A title carrying block wording of its own: "Acceso restringido", "YouTube - Blocked".
    A real page's title names the page, not a refusal."""
    return bool(title) and _says_blocked(_lexicon(), title or "")
