"""The multilingual block lexicon: how strongly a page's words say "a filter stopped you".

In: a page's title and body (HTML or text). Out: a ``CueScore`` — the weighted phrases found,
the language they lean to, and whether they add up to "strong" — and ``fold``, the text
normalisation every page check shares. Pure. The phrases are data (``netcheck/data/cues.yaml``
and the languages of ``netcheck/data/languages/*.yaml``):
families of wording, not one vendor's sentence, so a filter never seen before still says them.

Matching: folded text (lowercase, no accents or markup, Arabic letter variants unified). Phrases
in scripts written with spaces match as whole words; a word ending in ``*`` matches as a stem
(``engellen*`` for Turkish "engellendi", "engellenmiştir"). Phrases in scripts written without
spaces between words (Chinese, Japanese, Thai, Khmer, Burmese, Korean syllable blocks), or whose
vowel signs are no word characters (Devanagari, Bengali, Tamil, Sinhala), match anywhere, spaces
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
from typing import Any

import yaml

#: characters of a page that are read: block pages are small, real pages are not judged by words
MAX_SCAN = 64 * 1024
#: characters of folded visible text the lexicon reads
MAX_TEXT = 16 * 1024

_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,2000}>")
# Arabic yeh and kaf are written two ways across Arabic, Persian and Urdu text
# Turkish dotless "ı" is written for "i" in folded phrases (no accent to strip, so it would stay)
# Uzbek "oʻ", "gʻ" are written with a turned comma, an apostrophe or a right quote alike
# The zero-width joiner shapes Sinhala and Indic conjuncts, and some pages leave it out
_LETTERS = str.maketrans(
    {
        "\u064a": "\u06cc",
        "\u0643": "\u06a9",
        "\u200c": " ",
        "\u200d": "",
        "\u2019": "'",
        "\u02bb": "'",
        "\u02bc": "'",
        "\u0131": "i",
    }
    # letters NFKD leaves whole, as their languages' pages are often typed without them
    # (Vietnamese "đuoc" and "duoc", Polish "ł", Danish and Norwegian "ø", "æ")
    | {"\u0111": "d", "\u0142": "l", "\u00f8": "o", "\u00e6": "ae", "\u0153": "oe"}
)
# Devanagari, Bengali, Tamil and Sinhala are written with spaces, but their vowel signs are no
# word characters to ``\w``; Thai, Khmer, Burmese, Chinese and Japanese are written without
# spaces between words: phrases in all of these match as unspaced ones do, anywhere
_UNSPACED = re.compile(
    r"[\u0900-\u09ff\u0b80-\u0bff\u0d80-\u0dff\u0e00-\u0e7f\u1000-\u109f\u1100-\u11ff"
    r"\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)


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
    """``word``: the whole token; ``stem*``: a token starting so; ``*tail``: a token ending so,
    the last part of a compound (German "IKT-Nutzungsverordnung" ends in "verordnung")."""
    if pattern.startswith("*") and len(pattern) > 1:
        return token.endswith(pattern[1:])
    if pattern.endswith("*") and len(pattern) > 1:
        return token.startswith(pattern[:-1])
    return token == pattern


def _index(
    cues: dict[str, _Cue],
) -> tuple[dict[str, tuple[_Cue, ...]], dict[str, tuple[_Cue, ...]], tuple[tuple[str, _Cue], ...]]:
    """Cues indexed for one pass over a page: by first word, by stem prefix, and unspaced."""
    ordered = sorted(cues.values(), key=lambda c: (-len(c.words), -len(c.phrase)))
    by_first: dict[str, list[_Cue]] = {}
    stems: dict[str, list[_Cue]] = {}
    unspaced: list[tuple[str, _Cue]] = []
    for cue in ordered:
        if _UNSPACED.search(cue.phrase):
            unspaced.append(("".join(cue.phrase.split()), cue))
        elif cue.words[0].startswith("*"):
            stems.setdefault("", []).append(cue)  # a compound's tail: tried at every word
        elif cue.words[0].endswith("*"):
            stems.setdefault(cue.words[0][:2], []).append(cue)
        else:
            by_first.setdefault(cue.words[0], []).append(cue)
    unspaced.sort(key=lambda pc: -len(pc[0]))
    return (
        {k: tuple(v) for k, v in by_first.items()},
        {k: tuple(v) for k, v in stems.items()},
        tuple(unspaced),
    )


def _cue(raw: object, weight: int, lang: str) -> _Cue:
    phrase = fold(str(raw))
    return _Cue(phrase, weight, lang, tuple(phrase.split()))


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    """cues.yaml, with the languages of ``data/languages/*.yaml`` merged in: each such file
    adds whole languages to ``lexicon``, ``pairs``, ``refusals`` and ``access_context``, and
    words to the phrase lists of no language (``refusals.blocking``, ``temporary``...)."""
    data_dir = importlib.resources.files("netcheck") / "data"
    data: dict[str, Any] = yaml.safe_load((data_dir / "cues.yaml").read_text(encoding="utf-8"))
    languages = data_dir / "languages"
    extra = (
        sorted((f for f in languages.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
        if languages.is_dir()
        else []
    )
    # cues.yaml's own languages are those whose real pages' families (lookalikes:) are written
    data["families_languages"] = frozenset(str(lang) for lang in data["lexicon"])
    for file in extra:
        _merge_languages(data, yaml.safe_load(file.read_text(encoding="utf-8")) or {}, file.name)
    return data


def _merge_languages(data: dict[str, Any], more: dict[str, Any], name: str) -> None:
    for section in ("lexicon", "pairs", "refusals", "access_context"):
        for key, value in (more.get(section) or {}).items():
            into = data[section]
            if isinstance(value, list) and isinstance(into.get(key), list):
                into[key] = [*into[key], *value]  # a phrase list of no language
            elif key in into:
                raise ValueError(f"{name}: {section}.{key} is already in cues.yaml")
            else:
                into[key] = value


@functools.lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    data = _data()
    cues: dict[str, _Cue] = {}
    for lang, weights in data["lexicon"].items():
        for weight, phrases in weights.items():
            for raw in phrases:
                cue = _cue(raw, int(weight), str(lang))
                cues.setdefault(cue.phrase, cue)
    return _Lexicon(int(data["threshold"]), int(data["weak_cap"]), *_index(cues))


def _phrases(phrases: list[str]) -> _Lexicon:
    """A set of phrases of no language or weight, indexed for ``_find``."""
    cues = {c.phrase: c for c in (_cue(p, 0, "") for p in phrases)}
    return _Lexicon(0, 0, *_index(cues))


@functools.lru_cache(maxsize=1)
def _refusals() -> tuple[_Lexicon, _Lexicon, _Lexicon, int]:
    """(unable, where, temporary) phrase sets of plain refusals, and the "small page" size."""
    data = _data()["refusals"]
    sets: dict[str, dict[str, _Cue]] = {"unable": {}, "where": {}}
    for lang, roles in data.items():
        if not isinstance(roles, dict):
            continue  # small_text and the lists of no language (temporary, blocking, ...)
        for role, phrases in roles.items():
            for raw in phrases:
                cue = _cue(raw, 0, str(lang))
                sets[role].setdefault(cue.phrase, cue)
    unable, where = _Lexicon(0, 0, *_index(sets["unable"])), _Lexicon(0, 0, *_index(sets["where"]))
    return unable, where, _phrases(data["temporary"]), int(data["small_text"])


def _spaced(lex: _Lexicon, text: str) -> list[_Cue]:
    """Cues of spaced scripts, scanning words once; a phrase inside a longer one found at the
    same place is not counted again."""
    tokens = _WORD.findall(text.replace("*", " "))
    found: dict[str, _Cue] = {}
    tails = lex.stems.get("", ())
    i = 0
    while i < len(tokens):
        candidates = [*lex.by_first.get(tokens[i], ()), *lex.stems.get(tokens[i][:2], ()), *tails]
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


def _find(lex: _Lexicon, text: str) -> list[_Cue]:
    found = _spaced(lex, text)
    if _UNSPACED.search(text):
        found += _unspaced(lex, text)
    return found


_LINK = re.compile(r"<a\b[^>]{0,400}\bhref\s*=", re.IGNORECASE)
# French and Italian elided articles and prepositions, split off the noun they precede
_ELISION = re.compile(r"\b(l|d|qu|dell|dall|nell|sull|all|dagl|degl|dell|un)'")


#: an authority's order cited: a shutdown "for now" by a regulator's or a court's decision is a
#: block all the same, not a maintenance window
_BY_ORDER = re.compile(  # folded below, as the text it is searched in
    r"(court|judicial) order|order of the (court|competent authorit)|competent authorit|"
    r"regulatory (authority|commission)|orden judicial|autoridad(es)? competente|"
    r"determinacao judicial|ordem judicial|autoridade competente|decision de justice|"
    r"autorite competente|gerichtsbeschluss|behordliche anordnung|autorita competente|"
    r"rechterlijk bevel|nakaz sadu|решени\w* суда|mahkeme karari|perintah pengadilan|"
    r"putusan pengadilan|الجهات المختصة|قرار قضائي|أمر قضائي|حکم قضایی|"
    r"নিয়ন্ত্রণ কমিশন|নির্দেশনা অনুযায়ী|คำสั่งศาล|法院命令|裁判所の命令|법원 명령|"
    r"दूरसञ्चार प्राधिकरण|निर्देशन बमोजिम|दूरसंचार विभाग|के निर्देश(ों)? (के अनुसार|पर)|"
    r"ٹیلی کمیونیکیشن اتھارٹی|کی ہدایات? (پر|کے مطابق)"
)
_BY_ORDER = re.compile(fold(_BY_ORDER.pattern))


_OWN_POLICIES = re.compile(
    r"(privacy|cookie|cookies|data protection) (policy|notice|statement)|terms (of service|of use"
    r"|and conditions)|politica de (privacidad|privacidade|cookies)|politique de "
    r"(confidentialite|cookies)|datenschutz\w*|cookie-?richtlinie|informativa (sulla )?privacy"
    r"|privacybeleid|cookiebeleid|polityka (prywatnosci|cookies)|политика конфиденциальности"
    r"|gizlilik politikasi|cerez politikasi|kebijakan privasi"
)


def _refusal(text: str, body: str | None) -> _Cue | None:
    """A plain refusal: "cannot be opened" and "from this network/organisation" both said,
    not "temporarily". Weight 3 on a small page with nowhere else to go (a block page says one
    thing), 1 on a small page that links on (a help page explaining the rules); a long page is
    not scored (said in passing there, it would never weigh more than 1)."""
    unable_lex, where_lex, temporary, small = _refusals()
    if len(text) >= small:
        return None  # said in passing on a long page, it would only ever weigh 1: not scored
    unable = _find(unable_lex, text)
    # "dell'ente" says "ente": elided articles are split off for the where-words only; the
    # site's own policies in its footer ("Privacy Policy", "Cookie Policy") are no rules of a
    # network
    own = _OWN_POLICIES.sub(" ", text)
    where = _find(where_lex, _ELISION.sub(r"\1 ", own)) if unable else []
    if not where or (_find(temporary, text) and not _BY_ORDER.search(text)):
        return None
    links = len(_LINK.findall((body or "")[:MAX_TEXT]))
    weight = 3 if links <= 2 else 1
    said = f"{unable[0].phrase.strip('*')} ... {where[0].phrase.strip('*')}"
    return _Cue(said, weight, unable[0].lang, tuple(said.split()))


def _words_pattern(words: list[str]) -> str:
    """A regex alternation of folded words and phrases; a word ending in "*" is a stem."""
    parts = []
    for raw in sorted({fold(str(w)) for w in words}, key=len, reverse=True):
        tokens = [
            re.escape(t[:-1]) + r"[\w'-]*" if t.endswith("*") else re.escape(t) for t in raw.split()
        ]
        parts.append(r"\s".join(tokens))
    return "|".join(parts)


@functools.lru_cache(maxsize=1)
def _pairs() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Per language, a thing of the web and a word of refusal within ``window`` characters of
    one sentence, in either order (``pairs`` in cues.yaml)."""
    data = dict(_data()["pairs"])
    window = int(data.pop("window"))
    gap = rf"[^.!?;:|]{{0,{window}}}?"
    out = []
    for lang, sets in data.items():
        obj, verdict = _words_pattern(sets["objects"]), _words_pattern(sets["verdicts"])
        pattern = (
            rf"(?<![\w'-])(?P<o1>{obj})(?![\w'-]){gap}(?<![\w'-])(?P<v1>{verdict})(?![\w'-])"
            # the other order only as a heading says it: "Blocked site", "Sitio bloqueado"
            rf"|(?<![\w'-])(?P<v2>{verdict})(?![\w'-])[^.!?;:|]{{0,20}}?(?<![\w'-])(?P<o2>{obj})"
            r"(?![\w'-])"
        )
        out.append((str(lang), re.compile(pattern)))
    return tuple(out)


def _pair(text: str) -> _Cue | None:
    """The first "thing of the web ... word of refusal" said together (weight 2), or None."""
    for lang, pattern in _pairs():
        found = pattern.search(text)
        if found is not None:
            obj, verdict = found["o1"] or found["o2"], found["v1"] or found["v2"]
            said = f"{obj} ... {verdict}"
            return _Cue(said, 2, lang, tuple(said.split()))
    return None


#: a passage in quotation marks: a news story or a help page quoting a block page ("a page
#: reading 'Access denied: this site is blocked' appears") says nothing itself
_QUOTED = re.compile(
    '"[^"\n]{3,200}"|\u201c[^\u201d\n]{3,200}\u201d|\u00ab[^\u00bb\n]{3,200}\u00bb'
    "|\u201e[^\u201c\u201d\n]{3,200}[\u201c\u201d]|\u300c[^\u300d\n]{3,200}\u300d"
)


def generic_cues(body: str | None, title: str | None = None) -> CueScore:
    """Score vendor-neutral block wording in the title and body text, not in quotations."""
    lex = _lexicon()
    text = _QUOTED.sub(" ", fold((title or "") + " \n " + (body or ""))[:MAX_TEXT])
    found = _find(lex, text)
    if max((c.weight for c in found), default=0) < 2 and (pair := _pair(text)) is not None:
        found.append(pair)
    refusal = _refusal(text, body)
    if refusal is not None and refusal.weight > max((c.weight for c in found), default=0):
        found.append(refusal)
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


#: a heading that asks ("Why is a website blocked?", "¿Cómo solicito acceso?"): a help page's
#: question, not a filter's notice
_QUESTION = re.compile(
    r"[?\uff1f\u061f]\s*$|^\W*(why|how|what|when|can i|warum|wieso|wie|was|por ?que|como|"
    r"pourquoi|comment|perche|come|waarom|hoe|dlaczego|jak|почему|как|что|neden|nasil|mengapa|"
    r"bagaimana|tai sao|lam sao|为什么|為什麼|如何|なぜ|どうして|왜|어떻게|لماذا|كيف|چرا|چگونه)\b",
    re.IGNORECASE,
)


def _headline(title: str | None, body: str | None) -> str:
    heads = [m.group(1) for m in _HEADING.finditer((body or "")[:MAX_TEXT])][:6]
    said = [h for h in [title or "", *heads] if not _QUESTION.search(fold(h))]
    return " \n ".join(said)


def _says_blocked(lex: _Lexicon, text: str) -> bool:
    folded = fold(text)
    return bool(_spaced(lex, folded) or (_UNSPACED.search(folded) and _unspaced(lex, folded)))


def title_says_blocked(title: str | None) -> bool:
    """A title carrying block wording of its own: "Acceso restringido", "YouTube - Blocked".
    A real page's title names the page, not a refusal."""
    return bool(title) and _says_blocked(_lexicon(), title or "")


# --- which pages the lexicon can read -----------------------------------------------------------

#: ``lang`` attributes that name a lexicon language by another code
_LANG_ALIASES = {
    "no": "nb",
    "nn": "nb",
    "iw": "he",
    "in": "id",
    "sh": "sr",
    "bs": "hr",
    "fil": "tl",
}


@functools.lru_cache(maxsize=1)
def lexicon_languages() -> frozenset[str]:
    """The lexicon's languages (``lexicon`` in cues.yaml), as ISO 639-1 codes."""
    return frozenset(str(lang) for lang in _data()["lexicon"])


_LANG_ATTR = re.compile(r"<html\b[^>]{0,400}\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.IGNORECASE)
#: letters no language of the lexicon writes: other scripts (Gurmukhi, Gujarati, Oriya, Telugu,
#: Kannada, Malayalam, Tibetan) and Latin letters of Maltese and Welsh
_FOREIGN = re.compile("[\u0a00-\u0b7f\u0c00-\u0d7f\u0f00-\u0fffħġŵŷ]", re.IGNORECASE)


def reads(body: str | None, title: str | None = None) -> bool:
    """Whether the page may be written in one of the lexicon's languages, where its words and
    the real pages' families are known: its ``lang`` attribute names one of them or, with
    none, it holds no letter those languages never write. A page in another language (Welsh,
    Maltese, Telugu...) could be a refusal or a "coming soon" alike, and netcheck cannot tell."""
    return _written_in(body, title, lexicon_languages(), _FOREIGN)


def _written_in(
    body: str | None, title: str | None, languages: frozenset[str], foreign: re.Pattern[str]
) -> bool:
    """The page's ``lang`` attribute names one of ``languages`` or, with none, its text holds
    no letter of ``foreign``."""
    raw = (body or "")[:MAX_SCAN]
    declared = _LANG_ATTR.search(raw[:4096])
    if declared is not None:
        code = declared.group(1).lower()
        return _LANG_ALIASES.get(code, code) in languages
    text = (title or "") + " " + _TAG.sub(" ", _drop_scripts(raw))[:MAX_TEXT]
    return not foreign.search(text)


#: letters of the languages added in their own files (data/languages/) and of no language of
#: cues.yaml: Armenian, Georgian, Ethiopic, Tamil, Sinhala, Khmer, Burmese, and the Cyrillic and
#: Latin letters of Macedonian, Belarusian, Kazakh, Mongolian, Uzbek, Azerbaijani, Icelandic
_ADDED_SCRIPT = re.compile(
    "[\u0530-\u058f\u10a0-\u10ff\u1200-\u137f\u0b80-\u0bff\u0d80-\u0dff\u1780-\u17ff"
    "\u1000-\u109f\u0453\u045c\u0455\u045e\u04d9\u0493\u049b\u04a3\u04e9\u04b1\u04af"
    "\u04bb\u04b3\u0259\u00f0\u00fe]",
    re.IGNORECASE,
)


def families_known(body: str | None, title: str | None = None) -> bool:
    """Whether the page may be in a language whose real pages' families netcheck knows
    (cues.yaml's own languages): the languages added in data/languages/ have refusals and
    access words, but no consent, login, error or placeholder pages, so a brief page there
    that only speaks of access may be any of those. By the ``lang`` attribute, else by the
    letters only the added languages write."""
    return _written_in(body, title, _data()["families_languages"], _ADDED_SCRIPT)


def speaks_of_access(body: str | None, title: str | None = None) -> bool:
    """The page speaks of access or of the place it is refused from, in any of the lexicon's
    languages: a word of the plain-refusal lexicon's ``unable`` (not available, not allowed...)
    or ``where`` (the network, the organisation, its rules, its IT desk) sets or of
    ``access_context`` (staff, accounts, approval, permission), and nothing "temporary". A
    placeholder, a moved page or a loading shell speaks of the site itself. The root of "block"
    in any of the many languages that share it (``blocking``) speaks of access too."""
    unable, where, temporary, _small = _refusals()
    text = fold((title or "") + " \n " + (body or ""))[:MAX_TEXT]
    ordered = _BY_ORDER.search(text)
    if _find(temporary, text) and not ordered:
        return False
    if ordered:
        return True  # an authority's order stops access, for now or for good
    if _about_itself(text, title):
        return False  # a home page, a welcome, a privacy policy: the site speaks of itself
    if _follows(body):
        return False  # "follow us" on two or more networks: the site's own page
    return bool(
        _find(unable, text)
        or _find(where, _ELISION.sub(r"\1 ", text))
        or _find(_access_context(), text)
        or _find(_blocking(), text)
    )


#: a title that names the page as the site's home ("Portail informatique — Accueil")
_HOME_TITLE = re.compile(
    r"(^|[|\u2013\u2014:\u00b7\u00bb>-] *)(home|accueil|inicio|startseite|start|pagina inicial"
    r"|pagina principal|home ?page|beranda|laman utama|trang chu|ana ?sayfa|главная|головна"
    r"|strona glowna|hjem|etusivu|首页|首頁|ホーム|홈|الرئيسية|خانه)( *[|\u2013\u2014:\u00b7-]|$)"
)


def about_itself(body: str | None, title: str | None = None) -> bool:
    """The page presents the site itself (its home page, a welcome, its privacy or cookie
    policy: ``refusals.site_itself``; or a title naming it the home page) and says nothing of
    being unable to open."""
    return _about_itself(fold((title or "") + " \n " + (body or ""))[:MAX_TEXT], title)


def _about_itself(text: str, title: str | None) -> bool:
    """``about_itself`` on the page's folded text."""
    if title and _home_title(title):
        return not _find(_refusals()[0], text)
    return _presents_itself(text)


def cites_order(body: str | None, title: str | None = None) -> bool:
    """The page cites an authority's order (``_BY_ORDER``): a court, a regulator."""
    return bool(_BY_ORDER.search(fold((title or "") + " \n " + (body or ""))[:MAX_TEXT]))


_SOCIAL_LINK = re.compile(
    r"<a\b[^>]{0,300}\bhref\s*=\s*[\"']?https?://(?:www\.|m\.)?(facebook\.com|instagram\.com|"
    r"x\.com|twitter\.com|youtube\.com|linkedin\.com|tiktok\.com|threads\.net|t\.me|"
    r"whatsapp\.com|flickr\.com|vk\.com)\b",
    re.IGNORECASE,
)


def _follows(body: str | None) -> bool:
    """Links to two or more social networks: a site inviting its visitors to follow it there
    (a filter's page links to its help desk, never to the networks it refuses)."""
    found = {m.group(1).lower() for m in _SOCIAL_LINK.finditer((body or "")[:MAX_SCAN])}
    return len({"x.com" if host == "twitter.com" else host for host in found}) >= 2


def _home_title(title: str) -> bool:
    return bool(_HOME_TITLE.search(fold(title).strip()))


def _presents_itself(text: str) -> bool:
    """``about_itself`` on folded text. The root of "block" does not count against it:
    "Hauptstraße gesperrt" on a town's home page."""
    return bool(_find(_site_itself(), text)) and not _find(_refusals()[0], text)


@functools.lru_cache(maxsize=1)
def _site_itself() -> _Lexicon:
    """Words of a page about the site itself (``refusals.site_itself``): home, welcome, privacy."""
    return _phrases(_data()["refusals"]["site_itself"])


@functools.lru_cache(maxsize=1)
def _blocking() -> _Lexicon:
    """The root of "block" as most languages write it (``refusals.blocking``)."""
    return _phrases(_data()["refusals"]["blocking"])


@functools.lru_cache(maxsize=1)
def _access_context() -> _Lexicon:
    """Words of permission and of the people a filter's page addresses (``access_context``)."""
    cues: dict[str, _Cue] = {}
    for lang, phrases in _data()["access_context"].items():
        for raw in phrases:
            cue = _cue(raw, 0, str(lang))
            cues.setdefault(cue.phrase, cue)
    return _Lexicon(0, 0, *_index(cues))
