"""Lookalikes: real pages that merely look blocked, recognised by the family they belong to.

In: one response (status, headers, a body excerpt, its title) and, when known, which hosts are
the service's own. Out: the label of the page family (``consent-wall``, ``login-wall``,
``content-unavailable``, ``cloudflare-challenge``, ``bot-check``, ``cdn-error``, ``site-waf``,
``rate-limit``, ``maintenance``, ``server-default-page``) and whether the match is *soft*, or None.
Pure: no sockets.

Families, not strings: each rule in ``netcheck/data/cues.yaml`` names what a whole family of
pages shares, whoever wrote them — a default page says the server is installed and working, a
maintenance page asks to come back later (a 503 with ``Retry-After`` is the HTTP way of saying
so), a bot check loads a captcha from a known provider, a CDN names itself in its headers, a
login or consent page posts its form to the service's own hosts. A *firm* match is something a
filter's block page never carries (a captcha provider's script, ``Retry-After`` on a 503, "welcome
to nginx"); a *soft* one is wording or a marker a block page could share ("too many requests", a
password field), so clear signs of a filter outweigh it (``web``).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from netcheck.classify.fingerprints import LiteralLedRegex
from netcheck.classify.lexicon import MAX_SCAN, MAX_TEXT, fold
from netcheck.classify.pagecues import FORM_ACTION, OwnHosts

HEAD_SCAN = 16 * 1024


@dataclass(frozen=True)
class _Condition:
    text: LiteralLedRegex | None  # over the folded title and body
    raw: LiteralLedRegex | None  # over the lowercased body
    header: str | None
    header_regex: re.Pattern[str] | None
    statuses: tuple[int, ...]
    status_min: int | None
    soft: bool = False


def _condition(c: dict[str, object], soft: bool) -> _Condition:
    flags = re.IGNORECASE | re.DOTALL
    statuses = c.get("status", ())
    return _Condition(
        # folded like the text it reads (regex syntax is ASCII, so it survives)
        text=LiteralLedRegex(fold(str(c["text"]))) if "text" in c else None,
        raw=LiteralLedRegex(str(c["raw"])) if "raw" in c else None,
        header=str(c["header"]).casefold() if "header" in c else None,
        header_regex=re.compile(str(c.get("regex", ".")), flags) if "header" in c else None,
        statuses=tuple(int(s) for s in statuses) if isinstance(statuses, list) else (),
        status_min=int(str(c["status_min"])) if "status_min" in c else None,
        soft=bool(c.get("soft", soft)),
    )


@functools.lru_cache(maxsize=1)
def _rules() -> tuple[tuple[str, str, tuple[_Condition, ...]], ...]:
    ref = importlib.resources.files("netcheck") / "data" / "cues.yaml"
    data = yaml.safe_load(ref.read_text(encoding="utf-8"))
    return tuple(
        (
            str(rule["label"]),
            str(rule["description"]),
            tuple(_condition(c, bool(rule.get("soft", False))) for c in rule["any"]),
        )
        for rule in data["lookalikes"]
    )


def _holds(
    c: _Condition, status: int | None, headers: Sequence[tuple[str, str]], raw: str, text: str
) -> bool:
    if c.statuses and status not in c.statuses:
        return False
    if c.status_min is not None and (status is None or status < c.status_min):
        return False
    if c.text is not None and c.text.search(text) is None:
        return False
    if c.raw is not None and c.raw.search(raw) is None:
        return False
    if c.header is not None and c.header_regex is not None:
        values = [v for k, v in headers if k.casefold() == c.header]
        if not any(c.header_regex.search(v) for v in values):
            return False
    return True


# --- forms that post to the service itself --------------------------------------------------------

_FORM = re.compile(r"<form\b([^>]{0,600})>(.{0,3000}?)</form", re.IGNORECASE | re.DOTALL)
_CREDENTIAL = re.compile(
    r"<input\b[^>]{0,300}(type\s*=\s*[\"']?(password|email)\b|"
    r"name\s*=\s*[\"']?(pass|passwd|password|email|username|identifier|login|session_key)\b)",
    re.IGNORECASE,
)
_PASSWORD = re.compile(r"<input\b[^>]{0,300}type\s*=\s*[\"']?password\b", re.IGNORECASE)
_INPUT = re.compile(r"<input\b([^>]{0,300})>", re.IGNORECASE)
_NOT_A_NAME = re.compile(
    r"type\s*=\s*[\"']?(password|hidden|submit|button|image|reset|checkbox|radio)\b", re.IGNORECASE
)


def _asks_who(fields: str) -> bool:
    """The form asks who signs in (a user name, an e-mail, an id number) besides a password."""
    return any(not _NOT_A_NAME.search(m.group(1)) for m in _INPUT.finditer(fields))


_ACCOUNT_HOST = re.compile(r"^(consent|accounts?|login|signin|auth|id|sso)\.")


def own_form(body: str | None, requested_host: str, own: OwnHosts | None) -> str | None:
    """``login-wall`` or ``consent-wall`` when a form of the page posts to the service's own
    hosts: a sign-in form (an e-mail or user-name field) sent to a host of the service, a
    password form that goes back to the site itself, or any form sent to the service's consent
    or account host. A filter's forms go to the filter (an unblock request may ask for an
    e-mail address, but not for a password)."""
    found = _form_match(body, requested_host, own)
    return found[0] if found else None


def _form_match(
    body: str | None, requested_host: str, own: OwnHosts | None
) -> tuple[str, bool] | None:
    """``own_form``'s family, and whether the match is soft: a lone password field that posts
    back to the address asked for (no user name or e-mail beside it) is also what a filter's
    override page shows ("enter the override password to continue") when it stands in for the
    site, so there clear signs of a filter outweigh it."""
    for m in _FORM.finditer((body or "")[:HEAD_SCAN]):
        action = FORM_ACTION.search(m.group(1))
        target = action.group(1) if action else ""
        try:
            host = (urlsplit(target if "//" in target else "").hostname or "").lower()
        except ValueError:
            continue
        if host and own is not None and own(host) and _ACCOUNT_HOST.match(host):
            return ("consent-wall" if host.startswith("consent.") else "login-wall"), False
        fields = m.group(2)
        if host and own is not None and own(host) and _CREDENTIAL.search(fields):
            return "login-wall", False
        if (not host or host == requested_host) and _PASSWORD.search(fields):
            return "login-wall", not _asks_who(fields)
    return None


_AD_LINK = re.compile(
    r"<a\b[^>]{0,400}\bhref\s*=\s*[\"']?(?:https?:)?//([^/\"'\s>:]+)[^\"'\s>]*\?", re.IGNORECASE
)


def ad_links(body: str | None, requested_host: str, own: OwnHosts | None) -> bool:
    """A parked domain's shape, in any language: three or more links with a query, all to one
    other host (the parking service's ad feed: "Social Media Tools", "Video Hosting"...). A
    filter's page links once or twice, to its own help or request form."""
    counts: dict[str, int] = {}
    for m in _AD_LINK.finditer((body or "")[:HEAD_SCAN]):
        host = m.group(1).lower()
        if host == requested_host or (own is not None and own(host)):
            continue
        counts[host] = counts.get(host, 0) + 1
    return any(n >= 3 for n in counts.values())


#: marks of an article (a help-desk answer, a news story, a blog post), each in the lexicon's
#: main languages; folded text. A filter's notice carries none of them, or one in a template's
#: footer; an article carries several
_ARTICLE_MARKS = tuple(
    re.compile(p)
    for p in (
        # "was this article helpful?"
        r"(was this|did this) (article|page|answer) (helpful|help)|te (fue|ha sido) util"
        r"|(fue|foi|e stato) util[e]? (este|esta|questo) (articulo|artigo|articolo)"
        r"|(este|esta) (articulo|artigo|pagina) (te |lhe )?(fue|foi) util|war (dieser|dieses) "
        r"(artikel|beitrag|seite) hilfreich|cet article (vous )?a-t-il ete utile|questo articolo "
        r"ti e stato utile|was dit artikel (nuttig|behulpzaam)|czy ten artykul byl pomocny"
        r"|bu makale yardimci oldu mu|(эта )?статья (была )?полезн|apakah artikel ini membantu"
        r"|bai viet nay co huu ich|(这篇)?文章(对您)?有帮助吗|この記事は役に立ちましたか"
        r"|이 (문서|글)이 도움이 되었",
        # a knowledge base or help centre and its article numbers
        r"knowledge ?base|wissensdatenbank|base de (conocimientos?|connaissances|conhecimento)"
        r"|kennisbank|baza wiedzy|база знаний|bilgi bankasi|basis pengetahuan|co so kien thuc"
        r"|知识库|ナレッジベース|기술 자료|\bkb\d{4,}",
        # when it was written or changed
        r"(last|zuletzt|ultima|derniere|ultimo|laatst|ostatnia|son|последнее) ?(updated|modified"
        r"|aktualisiert|geandert|actualizacion|modificacion|mise a jour|aggiornamento"
        r"|atualizacao|bijgewerkt|aktualizacja|guncelleme|обновление)|modificado por ultima vez"
        r"|(published|veroffentlicht|publicado|publie|pubblicato|gepubliceerd|opublikowano"
        r"|опубликовано|yayinlanma|diterbitkan|dang luc)( (on|am|el|le|il|em|op|в))? ?\d"
        # a date in words, not as a field's value ("Zeitpunkt: 14.03.2025" is a block page's)
        r"|(?:^|(?<!:) )\d{1,2}\.? (de )?(jan|feb|mar|apr|may|mai|jun|jul|aug|ago|sep|set|oct"
        r"|okt|out|nov|dec|dez|dic|ene|abr|avr|juil|fev|janv|mei|maret|agu|des)\w*\.?( de)? "
        r"(19|20)\d\d|(?:^|(?<!:) )(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w* "
        r"\d{1,2}, (19|20)\d\d",
        # how often it was read, how long it takes to read
        r"\d[\d.,]* (views|aufrufe|vistas|visitas|vues|visualizzazioni|visualizacoes|weergaven"
        r"|wyswietlen|просмотр\w*|goruntulenme|kali dilihat|luot xem)|\d+ ?(min read|minutes? "
        r"read|min\.? lesezeit|minutos? de lectura|min\.? de lectura|min de lecture"
        r"|min di lettura|min de leitura|min\.? leestijd|okuma suresi|menit baca)",
        # who wrote it
        r"(written|posted|created|erstellt|creado|escrito|publicado|cree|redige|scritto|criado"
        r"|geschreven|napisane|автор|yazar|ditulis) (by|von|por|par|da|door|przez)\b|(^| )"
        r"(author|autor|auteur|autore|auteur|yazar|penulis|tac gia|作者|著者|작성자)\s*:",
        # what readers do with it: comments, sharing, related stories, tags
        r"(\d+ )?(comments|kommentare|comentarios|commentaires|commenti|reacties|komentarze"
        r"|комментарии|yorumlar|komentar|binh luan|评论|コメント|댓글)\b|share (this|on)"
        r"|(compartir|compartilhar|teilen|partager|condividi|delen|udostepnij|поделиться|paylas"
        r"|bagikan|chia se) (en|no|auf|sur|su|op|na|в|ke|len)\b|related (articles|stories|posts)"
        r"|(articulos|artigos|articles|articoli|artikel) (relacionados|connexes|correlati"
        r"|gerelateerd)|verwandte artikel|похожие (статьи|новости)|ilgili haberler|berita terkait"
        r"|tin lien quan|(tags|etiquetas|schlagworte|mots-cles|etiketler|теги|label)\s*:"
        r"|most read|mais lidas|mas leidas|les plus lus|meistgelesen|piu letti|meest gelezen"
        r"|najczesciej czytane|самое читаемое|en cok okunan|terpopuler|doc nhieu nhat",
        # a product's documentation: its guide, and the placeholders of its templates
        r"(administration|admin|administrator|user|configuration|deployment|reference) guide"
        r"|release notes|handbuch|guia (de|del) (administracion|usuario)|guide d'administration"
        r"|documentation|dokumentation|documentacion|documentacao",
        r"%%[a-z_]{2,30}%%|\$\{[a-z_]{2,30}\}|\{\{ ?[a-z_.]{2,30} ?\}\}",
        # a council's or an agency's own rules, as adopted
        r"(adopted|approved|enacted) by (the )?(city |county |town |municipal )?(council|board)"
        r"|aprobad[oa] (por|mediante) (el |la )?(concejo|consejo|pleno|resolucion|decreto)"
        r"|adopte(e)? par (le )?(conseil|deliberation)|beschlossen (vom|durch den) (rat|"
        r"gemeinderat|stadtrat)",
        # an encyclopedia's article
        r"free encyclopedia|enciclopedia libre|encyclopedie libre|freie enzyklopadie"
        r"|enciclopedia livre|vrije encyclopedie|wolna encyklopedia|свободная энциклопедия"
        r"|ozgur ansiklopedi|ensiklopedia bebas|creative commons",
    )
)


#: a document in numbered sections ("3. Employee access"): a policy, a guide, a regulation
_NUMBERED_HEADING = re.compile(r"<h[2-4][^>]{0,200}>\s*\d{1,2}(\.\d{1,2})*\.?\s+\w", re.IGNORECASE)

#: an article's own markup (one mark however many of these): the Open Graph type, a byline
#: or a dateline, a wiki's body (not a bare <article> or <time>: a block page's template may
#: use them for its notice and its timestamp)
_ARTICLE_MARKUP = re.compile(
    r"<meta[^>]{0,100}property=[\"']?og:type[\"']?[^>]{0,40}content=[\"']?article"
    r"|class=[\"']?[^\"'>]{0,60}\b(byline|dateline|pubdate|post-date|entry-date|article-date"
    r"|article-meta|post-meta)\b|class=[\"']?mediawiki",
    re.IGNORECASE,
)


def _is_article(text: str, raw: str) -> bool:
    """Two or more distinct marks of an article (see ``_ARTICLE_MARKS``, ``_ARTICLE_MARKUP``)
    in the page's folded ``text`` and its markup ``raw``."""
    marks = sum(1 for mark in _ARTICLE_MARKS if mark.search(text))
    numbered = len(_NUMBERED_HEADING.findall(raw[:HEAD_SCAN])) >= 2
    return marks + int(bool(_ARTICLE_MARKUP.search(raw[:HEAD_SCAN]))) + int(numbered) >= 2


def lookalike_match(
    status: int | None,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    title: str | None,
    *,
    requested_host: str = "",
    own: OwnHosts | None = None,
) -> tuple[str, bool] | None:
    """(label, soft) of the page's family: the first firm match, else the first soft one, else
    None. ``soft`` when every condition that held is one a filter's page could also show."""
    raw = (body or "")[:MAX_SCAN]
    text = fold((title or "") + " \n " + raw)[:MAX_TEXT]
    raw = raw.lower()
    first_soft: tuple[str, bool] | None = None
    for label, _description, conds in _rules():
        held = [c for c in conds if _holds(c, status, headers, raw, text)]
        if not held:
            continue
        if not all(c.soft for c in held):
            return label, False
        first_soft = first_soft or (label, True)
    form = _form_match(body, requested_host, own)
    if form is not None and not (form[1] and first_soft is not None):
        return form
    if _is_article(text, raw):
        return "article", False
    if first_soft is None and ad_links(body, requested_host, own):
        return "server-default-page", True
    return first_soft


def lookalike(
    status: int | None,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    title: str | None,
) -> str | None:
    """The label of a real page that merely looks blocked (consent, login, CDN...), or None."""
    found = lookalike_match(status, headers, body, title)
    return found[0] if found else None


_EXTRA = {
    "article": "an article of another site (a help-desk answer, a news story or a product's "
    "guide, by its marks: its date, author, readers' comments, 'was this helpful?')",
    "login-wall": "the service asked to log in (its own login page)",
    "consent-wall": "the service showed its own consent page",
}


def lookalike_description(label: str) -> str:
    """The plain-words description of a lookalike label, for evidence sentences."""
    for name, description, _conds in _rules():
        if name == label:
            return description
    return _EXTRA.get(label, label)
