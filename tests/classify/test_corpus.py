"""Block pages and lookalikes from the corpus, in place of agency channels from a targets file.

The tuning split is checked here case by case; the held-out splits are only measured (by
bench/blockpages.py), so that no test pulls the cues towards them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from netcheck.classify import classify_result
from netcheck.classify.blockpage import (
    generic_cues,
    load_fingerprints,
    match_http,
    vendor_name,
)
from netcheck.classify.evidence import expect_of
from netcheck.classify.pagecues import page_structure
from netcheck.models import Expect, Target
from netcheck.targets.catalogue import service_expect
from tests.classify.corpus import (
    NO_CONTEXT_FILE,
    Page,
    Served,
    agency_targets,
    cases,
    load_pages,
    serve,
)

PAGES = load_pages()
TUNE = [p for p in PAGES if p.split == "tune"]
CASES = list(cases(TUNE)) + list(cases(TUNE, context=False))

MESA_DE_AYUDA = """<html lang="es"><head><title>Acceso restringido</title></head><body>
<h2>Acceso restringido</h2><p>El recurso solicitado no se encuentra disponible.</p>
<p>Para más información comuníquese con la Mesa de Ayuda.</p></body></html>"""


def _id(case: Served) -> str:
    return f"{case.page.id}-{case.target.service}-{case.transport}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_tuning_page_in_place_of_a_channel(case: Served) -> None:
    got = classify_result(case.record)
    if case.page.kind == "block":
        assert got.verdict == "blocked", got.evidence
        assert got.technique in ("http-blockpage", "http-status"), got.evidence
    else:
        assert got.verdict == "accessible", got.evidence


def test_every_language_and_vendor_class_is_tuned_and_held_out() -> None:
    """The tuning pages, and the held-out batches together (one batch may lack a language:
    batch 4 has no Urdu page), cover every language and vendor class and lookalike family."""
    for splits in (("tune",), ("batch3", "batch4")):
        blocks = [p for p in PAGES if p.split in splits and p.kind == "block"]
        langs = {p.lang for p in blocks}
        assert {"es", "en", "pt", "fr", "de", "it", "nl", "pl", "ru", "uk", "tr"} <= langs
        assert {"ar", "fa", "ur", "th", "vi", "zh", "ko", "ja"} <= langs
        assert {"id", "ms"} <= langs
        assert {"generic", "ngfw", "swg", "education", "dns-filter", "endpoint"} <= {
            p.klass for p in blocks
        }
        lookalikes = {p.klass for p in PAGES if p.split in splits and p.kind == "lookalike"}
        assert {"consent-wall", "login-wall", "content-unavailable", "rate-limit"} <= lookalikes
        assert {"maintenance", "bot-check", "server-default-page"} <= lookalikes


def test_plain_worded_spanish_page_through_interception_is_blocked() -> None:
    """The issue's case: no vendor, no known sentence, a channel entry with no `expect`."""
    youtube = next(t for t in agency_targets() if t.service == "youtube")
    assert youtube.expect.title_contains == []
    page = Page("mesa", "test", "block", "es", "generic", None, 200, (), (), MESA_DE_AYUDA)
    got = classify_result(serve(page, youtube, "intercepted-https").record)
    assert (got.verdict, got.technique) == ("blocked", "http-blockpage"), got.evidence
    assert "interception" in got.evidence
    assert "acceso restringido" in got.evidence


def test_the_real_channel_through_interception_stays_accessible() -> None:
    html = "<html><head><title>Ministerio Ejemplo - YouTube</title></head><body>x</body></html>"
    page = Page("real", "test", "page", "es", "service", None, 200, (), (), html)
    for target in agency_targets():
        if target.service == "youtube":
            for transport in ("plain-http", "intercepted-https"):
                got = classify_result(serve(page, target, transport).record)
                assert got.verdict == "accessible", got.evidence


def test_service_expectations_are_inherited_unless_the_entry_names_its_own() -> None:
    agency = Target(url="https://www.youtube.com/@agencia", service="youtube", function="view")
    assert expect_of(agency).title_contains == ["YouTube"]
    assert "*.youtube.com" in expect_of(agency).cert_names
    own = replace(agency, expect=Expect(title_contains=["Agencia"]))
    assert expect_of(own).title_contains == ["Agencia"]
    assert expect_of(own).cert_names == []
    # another host of the service: the service's brand words, no certificate names
    mobile = service_expect("m.youtube.com")
    assert mobile is not None
    assert mobile.title_contains == ["YouTube"]
    assert mobile.cert_names == []
    assert service_expect("portal.ministerio.example") is None
    assert service_expect("notyoutube.com") is None


@pytest.mark.parametrize(
    "sentence",
    [
        "Acceso restringido. Comuníquese con la Mesa de Ayuda.",
        "This site has been blocked by your organization.",
        "Este site foi bloqueado.",
        "Ce site a été bloqué par votre administrateur.",
        "Diese Website wurde gesperrt.",
        "Questo sito è stato bloccato.",
        "Deze website is geblokkeerd.",
        "Strona została zablokowana.",
        "Situs ini telah diblokir.",
        "Laman web ini telah disekat.",
        "Доступ к сайту заблокирован.",
        "Доступ до сайту заблоковано.",
        "Bu siteye erişim engellenmiştir.",
        "هذا الموقع محجوب",
        "این سایت مسدود شده است",
        "یہ ویب سائٹ بلاک کر دی گئی ہے",
        "เว็บไซต์นี้ถูกบล็อก",
        "Trang web này đã bị chặn.",
        "该网站已被禁止访问",
        "요청하신 사이트는 차단되었습니다",
        "このサイトはブロックされています",
    ],
)
def test_lexicon_speaks_twenty_languages(sentence: str) -> None:
    cues = generic_cues(f"<h1>{sentence}</h1>")
    assert cues.strong, cues
    assert cues.headline


def test_words_said_in_passing_do_not_convict() -> None:
    help_page = (
        "<title>Help</title><p>Your account is blocked after five wrong passwords; contact "
        "your administrator.</p>"
    )
    cues = generic_cues(help_page)
    assert cues.strong  # the words are there...
    assert not cues.decisive  # ...but not up front, nor a sentence only a block page says


@pytest.mark.parametrize(
    ("body", "sign"),
    [
        ('<meta http-equiv="refresh" content="0;url=http://10.0.0.5/deny">', "10.0.0.5"),
        ('<iframe src="http://192.168.1.1:8008/x"></iframe>', "192.168.1.1"),
        ("<script>location.href='https://filter.corp.example/warn?u=1'</script>", "filter"),
        ("<script>var u='https://gw.corp.example:15871/c?u='+x;location=u;</script>", "15871"),
    ],
)
def test_a_page_that_only_sends_the_browser_to_a_filter(body: str, sign: str) -> None:
    shape = page_structure(body=body, headers=[], requested="https://x.com/agency")
    assert shape.redirect is not None
    assert sign in shape.redirect
    assert shape.score >= 3


def test_a_redirect_to_the_site_itself_is_not_a_filter() -> None:
    body = '<meta http-equiv="refresh" content="0;url=https://x.com/home">'
    assert page_structure(body=body, headers=[], requested="https://x.com/a").redirect is None
    body = '<meta http-equiv="refresh" content="0;url=/blocked-words-are-fine-here">'
    assert page_structure(body=body, headers=[], requested="https://x.com/a").redirect is None


def test_category_form_and_headers_are_signs() -> None:
    body = (
        "<p>Categoría: Redes sociales</p><form action=/r><input name=url>"
        "<button>Solicitar desbloqueo</button></form>"
    )
    shape = page_structure(
        body=body, headers=[("X-Blocked-By", "gw")], requested="https://www.facebook.com/a"
    )
    assert len(shape.signs) == 3, shape.signs


NEW_VENDORS = {
    "iboss": "iboss",
    "lightspeed": "Lightspeed Systems",
    "contentkeeper": "ContentKeeper",
    "olfeo": "Olfeo",
    "netspark": "Netspark",
    "iserv": "IServ",
    "smoothwall": "Smoothwall",
    "securly": "Securly",
    "goguardian": "GoGuardian",
    "meraki": "Cisco Meraki",
    "comodo": "Comodo Dome",
    "trendmicro": "Trend Micro",
    "symantec-wss": "Symantec Web Security Service",
    "netskope": "Netskope",
    "cloudflare-gateway": "Cloudflare Gateway",
    "dnsfilter": "DNSFilter",
    "cleanbrowsing": "CleanBrowsing",
    "kaspersky": "Kaspersky",
    "eset": "ESET",
    "huawei": "HUAWEI",
    "h3c": "H3C",
}


@pytest.mark.parametrize(("vendor", "product"), NEW_VENDORS.items())
def test_new_vendor_named_next_to_block_wording(vendor: str, product: str) -> None:
    """A product's name next to refusing words in any language is its block page; the name
    alone only names who blocked (the product also passes real pages through)."""
    outside = agency_targets(NO_CONTEXT_FILE)[0]
    for body in (
        f"<p>Esta página ha sido bloqueada.</p><p>{product}</p>",
        f"<p>{product}</p><p>Access to this website has been blocked.</p>",
        f"<p>{product}</p><p>已被拦截</p>",
        f"<p>{product}</p><p>Diese Seite ist nicht erlaubt.</p>",
    ):
        page = Page("v", "test", "block", "xx", "swg", vendor, 200, (), (), body)
        got = classify_result(serve(page, outside, "plain-http").record)
        assert (got.verdict, got.vendor) == ("blocked", vendor), (body, got.evidence)
    fps = load_fingerprints()
    alone = match_http(fps, body=f"<footer>{product}</footer>")
    assert [m.kind for m in alone if m.vendor == vendor] == ["identity"]
    news = (
        f"<html><head><title>{product} releases a new version</title></head><body>"
        f"<nav><a href=/>Home</a><a href=/tech>Tech</a><a href=/biz>Business</a></nav>"
        f"<p>{product} announced an update of its product today.</p></body></html>"
    )
    page = Page("n", "test", "page", "en", "service", None, 200, (), (), news)
    assert classify_result(serve(page, outside, "plain-http").record).verdict == "accessible"
    assert vendor_name(vendor) != vendor or vendor == "iboss"
