"""Page families, plain refusals and the "no sign, no accusation" rule, on pages written here.

These pages are not in the corpus: each test states one rule the second pass added and shows
the contrast that makes it a rule (the same words on a page with navigation, the same form sent
to a filter's host, the same status with Retry-After and without).
"""

from __future__ import annotations

import re

import pytest

from netcheck.classify import classify_result
from netcheck.classify.blockpage import generic_cues, load_fingerprints
from netcheck.classify.evidence import own_hosts
from netcheck.classify.fingerprints import LiteralLedRegex
from netcheck.classify.lookalikes import lookalike_match, own_form
from netcheck.models import Target
from tests.classify.corpus import NO_CONTEXT_FILE, SAMPLES, Page, agency_targets, load_pages, serve

TARGETS = {t.service: t for t in agency_targets()}
OUTSIDE = agency_targets(NO_CONTEXT_FILE)[0]


def _verdict(
    html: str,
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    service: str = "facebook",
    transport: str = "plain-http",
) -> tuple[str, str | None, str]:
    page = Page("t", "test", "block", "xx", "generic", None, status, headers, (), html)
    target = OUTSIDE if service == "outside" else TARGETS[service]
    got = classify_result(serve(page, target, transport).record)
    return got.verdict, got.technique, got.evidence


def test_a_placeholder_in_place_of_the_service_is_its_family_not_a_block() -> None:
    bare = (
        "<html><head><title>Neue Seite</title></head><body>"
        "<p>Hier entsteht bald etwas.</p></body></html>"
    )
    verdict, _, evidence = _verdict(bare)
    assert verdict == "accessible", evidence
    assert "placeholder" in evidence


@pytest.mark.parametrize("transport", ["plain-http", "intercepted-https"])
def test_a_brief_page_that_is_not_the_service_and_of_no_family_is_a_block_page(
    transport: str,
) -> None:
    """The broad rule: no word of it in the lexicon, no vendor, no shape, but a brief page in a
    language netcheck reads, where a known brand's page was expected, over a forgeable
    transport."""
    for html in (
        "<html lang='pl'><body><p>Tego adresu nie ma na liście stron dla pracowników.</p></body>"
        "</html>",
        "<html><body><p>Sorry, this one is not on the list for staff.</p></body></html>",
    ):
        verdict, technique, evidence = _verdict(html, transport=transport)
        assert (verdict, technique) == ("blocked", "http-blockpage"), evidence
        assert "not the service's" in evidence


@pytest.mark.parametrize(
    "html",
    [
        "<html lang='cy'><body><p>Nid yw'r wefan hon ar gael ar rwydwaith y weinidogaeth.</p>"
        "</body></html>",
        "<html><body><p>Għal dan is-sit m'hemmx aċċess min-netwerk tal-ministeru.</p>"
        "</body></html>",
        "<html><body><p>ఈ సైట్ మంత్రిత్వ శాఖ నెట్‌వర్క్‌లో అందుబాటులో లేదు.</p></body></html>",
        "<html lang='gu'><body><p>આ સાઇટ મંત્રાલયના નેટવર્ક પર ઉપલબ્ધ નથી.</p></body></html>",
    ],
)
def test_a_brief_page_in_a_language_netcheck_does_not_read_is_inconclusive(html: str) -> None:
    """A refusal or a "coming soon" alike: neither words nor families are known there."""
    verdict, _, evidence = _verdict(html)
    assert verdict == "inconclusive", evidence
    assert "does not read" in evidence


@pytest.mark.parametrize(
    "html",
    [
        "<html lang='cs'><body><p>Tato stránka se ze sítě úřadu neotevírá.</p></body></html>",
        "<html><body><p>האתר אינו זמין ברשת המשרד.</p></body></html>",
        "<html><body><p>Ova stranica nije dostupna u mreži Grada.</p></body></html>",
        "<html lang='sv'><body><p>Sidan går inte att öppna från kommunens nätverk.</p></body>"
        "</html>",
        "<html lang='hi'><body><p>यह साइट मंत्रालय के नेटवर्क पर उपलब्ध नहीं है।</p></body></html>",
    ],
)
def test_a_refusal_in_a_language_added_to_the_lexicon_is_a_block_page(html: str) -> None:
    """Czech, Hebrew, Croatian, Swedish, Hindi...: read since the lexicon's fourth pass."""
    verdict, technique, evidence = _verdict(html)
    assert (verdict, technique) == ("blocked", "http-blockpage"), evidence


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>Η νέα μας ιστοσελίδα έρχεται σύντομα.</p></body></html>",
        "<html lang='fi'><body><h1>Huoltokatko</h1><p>Palvelu on huollon vuoksi poissa käytöstä. "
        "Yritä myöhemmin uudelleen.</p></body></html>",
        "<html lang='ro'><body><h1>Site în mentenanță</h1><p>Revenim în curând.</p></body></html>",
    ],
)
def test_a_notice_in_a_language_added_to_the_lexicon_is_no_accusation(html: str) -> None:
    """A "coming soon" or maintenance notice in a newly read language is not a block page."""
    verdict, _, evidence = _verdict(html)
    assert verdict != "blocked", evidence


def test_the_broad_rule_needs_a_brand_a_success_a_brief_page_and_none_of_the_services_assets() -> (
    None
):
    notice = "<html><body><p>Sorry, this one is not on the list for staff.</p></body></html>"
    # outside the catalogue there is no brand to miss: words, shape and vendor alone decide
    assert _verdict(notice, service="outside")[0] != "blocked"
    # a 503 or a 404 may be the service's own front: doubt, not blame
    assert _verdict(notice, status=503)[0] == "inconclusive"
    # a page that loads the service's own scripts is the service's
    own = notice.replace(
        "</body>", "<script src='https://static.xx.fbcdn.net/rsrc.php/app.js'></script></body>"
    )
    assert _verdict(own)[0] != "blocked"
    # a large page with a whole site's menus is not a notice: inconclusive
    menu = "".join(f"<a href='/s/{n}'>Sekce {n}</a> " for n in range(30))
    large = notice.replace("<body>", "<body><nav>" + menu + "</nav>" + "<p>Lorem ipsum.</p>" * 200)
    assert _verdict(large)[0] == "inconclusive"
    # titled the way the service titles its own pages: its own page
    titled = "<html><head><title>Esta cuenta no existe / X</title></head><body></body></html>"
    assert _verdict(titled, service="x")[0] == "accessible"


@pytest.mark.parametrize(
    "sentence",
    [
        "Ta witryna nie jest dostępna z sieci urzędu.",
        "Este contenido no se encuentra disponible en la red de la dependencia.",
        "This website cannot be opened on the council network.",
        "Diese Internetseite ist aufgrund der IKT-Nutzungsverordnung nicht erreichbar.",
        "Il sito è escluso dalla navigazione dell'Ente.",
    ],
)
def test_plain_refusal_on_a_small_page_but_not_in_passing(sentence: str) -> None:
    small = generic_cues(f"<p>{sentence}</p>")
    assert small.decisive, small
    # the same sentence in a help page that links on is said in passing
    nav = "".join(f'<a href="/{n}">{n}</a>' for n in ("home", "it", "hr", "news"))
    assert not generic_cues(f"<nav>{nav}</nav><p>{sentence}</p>").decisive
    # and "temporarily" makes it a maintenance notice, not a filter's refusal
    assert not generic_cues(f"<p>Temporarily: {sentence}</p>").strong


def test_retry_after_makes_a_503_the_services_own() -> None:
    html = "<html><body><p>Back in an hour.</p></body></html>"
    assert lookalike_match(503, [("Retry-After", "3600")], html, None) == ("maintenance", False)
    verdict, _, evidence = _verdict(html, 503, (("Retry-After", "3600"),))
    assert verdict == "accessible", evidence
    # without Retry-After and with nothing else to go on, a 503 is doubt, not a block
    assert _verdict(html, 503, service="outside")[0] == "inconclusive"
    # 451 still is a block: the status says so
    assert _verdict(html, 451, service="outside")[:2] == ("blocked", "http-status")


def test_forms_to_the_services_own_hosts_are_its_login_and_consent() -> None:
    own = own_hosts(Target(url="https://www.youtube.com/@a", service="youtube", function="view"))
    sign_in = (
        '<form action="https://accounts.google.com/v3/signin" method="post">'
        '<input type="email" name="identifier"></form>'
    )
    assert own_form(sign_in, "www.youtube.com", own) == "login-wall"
    consent = '<form action="https://consent.youtube.com/save"><button>OK</button></form>'
    assert own_form(consent, "www.youtube.com", own) == "consent-wall"
    # the same e-mail field sent to the filter is an unblock request, not the service's login
    ask = sign_in.replace("accounts.google.com", "gateway.agency.example")
    assert own_form(ask, "www.youtube.com", own) is None
    # a password form that posts back to the site itself is a login page
    assert own_form('<form action="/login"><input type="password"></form>', "x.com", None)


@pytest.mark.parametrize(
    ("status", "headers", "html", "label"),
    [
        (200, [], "<h1>Welcome to nginx on Debian!</h1>", "server-default-page"),
        (
            200,
            [],
            "<p>If you see this page, the web server is successfully installed.</p>",
            "server-default-page",
        ),
        (200, [], "<h1>Coming soon</h1>", "server-default-page"),
        (403, [], '<script src="https://ct.captcha-delivery.com/c.js"></script>', "bot-check"),
        (403, [("x-amzn-waf-action", "captcha")], "<p>Verify</p>", "bot-check"),
        (403, [("Server", "Varnish")], "<p>Forbidden</p>", "cdn-error"),
        (403, [], "<h1>403 Forbidden</h1><hr><center>nginx/1.18.0</center>", "server-error"),
        (429, [], "<p>Slow down</p>", "rate-limit"),
    ],
)
def test_page_families(status: int, headers: list[tuple[str, str]], html: str, label: str) -> None:
    found = lookalike_match(status, headers, html, None)
    assert found is not None
    assert found[0] == label, found


def test_shipped_patterns_match_as_the_case_insensitive_regex_would() -> None:
    """The literal-first search over lowered text finds what one IGNORECASE regex finds."""
    pages = [p.html for p in load_pages()] + [
        (SAMPLES / "fortiguard.html").read_text(encoding="utf-8")
    ]
    for fp in load_fingerprints().http:
        if not isinstance(fp._regex, LiteralLedRegex) or fp.scope != "body":
            continue
        slow = re.compile(fp.pattern, re.IGNORECASE | re.DOTALL)
        for html in pages:
            fast = fp._regex.search(html.lower()) is not None
            assert fast == (slow.search(html) is not None), (fp.id, html[:80])


@pytest.mark.parametrize(
    ("html", "status"),
    [
        # IIS's start page says nothing: its picture and its one link say what it is
        (
            "<html><head><title>IIS</title></head><body><a href='http://go.microsoft.com/fwlink/"
            "?linkid=66138&amp;clcid=0x409'><img src='iisstart.png'></a></body></html>",
            200,
        ),
        # a parked domain by its shape: ad links with a query, all to one other host
        (
            "<html><body><h1>agency.example</h1>"
            + "".join(f"<a href='https://feed.parking.example/r?k={k}'>{k}</a>" for k in "abcd")
            + "</body></html>",
            200,
        ),
        # a maintenance notice in Thai ("closed for improvement"; its time alone proves nothing)
        ("<html><body><p>ปิดปรับปรุงชั่วคราว กลับมาเวลา 06:00 น.</p></body></html>", 200),
        # a hosting account suspended, in Spanish
        (
            "<html><body><h1>Esta cuenta ha sido suspendida</h1><p>Contacte a su proveedor de "
            "alojamiento.</p></body></html>",
            200,
        ),
        # a limit said to be reached, on a success
        ("<html><body><p>Has alcanzado el límite de solicitudes.</p></body></html>", 200),
    ],
)
def test_families_keep_real_pages_out_of_the_broad_rule(html: str, status: int) -> None:
    verdict, _, evidence = _verdict(html, status)
    assert verdict == "accessible", evidence


def test_the_broad_rule_takes_a_brief_refusal_but_not_an_empty_one() -> None:
    notice = (
        "<html lang='pl'><body><p>Tego adresu nie ma na liście stron dla pracowników.</p>"
        "</body></html>"
    )
    assert _verdict(notice, 403)[:2] == ("blocked", "http-blockpage")
    assert _verdict("<html><body>nope</body></html>", 403)[0] == "inconclusive"
    assert _verdict("<html><body></body></html>", 200)[0] == "inconclusive"


def test_a_page_that_only_sends_the_browser_elsewhere_outweighs_asking_for_javascript() -> None:
    html = (
        "<html><head><script>window.location.href='https://notice.gw.agency.example/p';"
        "</script></head><body><noscript>Please enable JavaScript.</noscript></body></html>"
    )
    assert _verdict(html)[:2] == ("blocked", "http-blockpage")
    # the service's own hop from one of its names to another is the service's
    own = html.replace("notice.gw.agency.example/p", "m.facebook.com/MinisterioEjemplo")
    assert _verdict(own)[0] != "blocked"


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>This page has moved. <a href='/new'>Go to the new page</a>.</p>"
        "</body></html>",
        "<html lang='ru'><body><p>Сайт обновляется. Мы скоро вернёмся.</p></body></html>",
        "<html><head><title>Loading…</title></head><body><div id='root'>Loading…</div>"
        "</body></html>",
    ],
)
def test_a_brief_page_that_says_nothing_of_access_is_inconclusive(html: str) -> None:
    """Not the service's, of no known family, but about the site itself (moved, updating,
    loading), not about access, a network, rules, staff or permission: doubt, not blame."""
    verdict, _, evidence = _verdict(html)
    assert verdict == "inconclusive", evidence
    assert "says nothing of access" in evidence
