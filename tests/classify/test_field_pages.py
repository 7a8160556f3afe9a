"""Rules of the fourth pass, each shown with the contrast that makes it a rule.

Pages written here, not in the corpus: a refusal said in any wording (a thing of the web and a
word of refusal in one sentence), the root of "block" in a language netcheck has no sentence
for, a redirect to an address named for blocking, a filter's override form beside a service's
sign-in form, and the stock pages web servers and CDNs write themselves.
"""

from __future__ import annotations

import pytest

from netcheck.classify.lexicon import (
    about_itself,
    families_known,
    generic_cues,
    speaks_of_access,
)
from netcheck.classify.lookalikes import lookalike_match
from netcheck.classify.pagecues import page_structure
from tests.classify.test_families import _verdict


@pytest.mark.parametrize(
    ("sentence", "pair"),
    [
        ("The page you requested was blocked.", "page ... blocked"),
        ("El acceso a esta página fue bloqueado.", "pagina ... bloqueado"),
        ("Эта страница запрещена для просмотра.", "страница ... запрещена"),
        ("Bu siteye erişim kısıtlandı.", "siteye ... kisitlandi"),
    ],
)
def test_a_thing_of_the_web_and_a_word_of_refusal_together_weigh_as_a_phrase(
    sentence: str, pair: str
) -> None:
    cues = generic_cues(f"<html><body><p>{sentence}</p></body></html>")
    assert pair in cues.phrases
    assert cues.score >= 2  # a phrase block pages say: with any other sign, a block page


def test_the_two_words_apart_or_in_other_sentences_are_not_a_pair() -> None:
    apart = generic_cues(
        "<html><body><p>The page lists the opening hours. Nothing here is blocked.</p>"
        "</body></html>"
    )
    assert not any("..." in p for p in apart.phrases)
    # said the other way round, only as a heading does ("Blocked site"), not across a sentence
    far = generic_cues(
        "<html><body><p>Blocked roads and closures for the marathon are listed on this site.</p>"
        "</body></html>"
    )
    assert not any("..." in p for p in far.phrases)


def test_the_root_of_block_speaks_of_access_in_languages_without_sentences() -> None:
    assert speaks_of_access("<p>Tato stránka je v síti nemocnice zablokovaná.</p>")
    assert speaks_of_access("<p>Denne side er blokeret.</p>")
    assert not speaks_of_access("<p>Vi er tilbage om en time.</p>")


@pytest.mark.parametrize("transport", ["plain-http", "intercepted-https"])
def test_a_redirect_to_an_address_named_for_blocking_is_the_block(transport: str) -> None:
    named = (("Location", "http://filter.district.example/blocked.php?url=x.com"),)
    verdict, technique, evidence = _verdict(
        "<html><body>Redirecting...</body></html>", 307, named, transport=transport
    )
    assert (verdict, technique) == ("blocked", "http-redirect"), evidence
    # handed the requested address alone is what captive portals and sign-on pages do too
    handed = (("Location", "http://portal.example/login?next=http://www.facebook.com/x"),)
    verdict, _, evidence = _verdict(
        "<html><body>Redirecting...</body></html>", 302, handed, transport=transport
    )
    assert verdict != "blocked", evidence


OVERRIDE = (
    "<html><head><title>Web Page Blocked</title></head><body><h1>Web page blocked</h1>"
    "<p>Access to this web page is blocked in accordance with company policy.</p>"
    "<form method='post' action='/override'><input type='password' name='pass'>"
    "<input type='submit' value='Continue'></form></body></html>"
)
SIGN_IN = (
    "<html><head><title>Sign in</title></head><body><h1>Restricted access</h1>"
    "<form method='post' action='/login'><input name='user'><input type='password' name='pw'>"
    "<button>Sign in</button></form></body></html>"
)


def test_a_lone_password_field_is_a_soft_login_sign_beside_a_user_name_a_firm_one() -> None:
    assert lookalike_match(200, (), OVERRIDE, None, requested_host="www.facebook.com") == (
        "login-wall",
        True,
    )
    assert lookalike_match(200, (), SIGN_IN, None, requested_host="www.facebook.com") == (
        "login-wall",
        False,
    )
    verdict, technique, evidence = _verdict(OVERRIDE)
    assert (verdict, technique) == ("blocked", "http-blockpage"), evidence
    verdict, _, evidence = _verdict(SIGN_IN)
    assert verdict == "accessible", evidence


@pytest.mark.parametrize(
    ("status", "headers", "html"),
    [
        (
            403,
            (("Server", "Apache"),),
            "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>You don't"
            " have permission to access this resource.</p></body></html>",
        ),
        (
            403,
            (),
            "<html><head><title>403 - Forbidden: Access is denied.</title></head><body><h2>403 -"
            " Forbidden: Access is denied.</h2><h3>You do not have permission to view this "
            "directory or page using the credentials that you supplied.</h3></body></html>",
        ),
        (
            403,
            (("Server", "cloudflare"),),
            "<html><head><title>Access denied | example.org used Cloudflare to restrict access"
            "</title></head><body><h1>Access denied</h1><p>Error code 1020</p>"
            "<p>Performance &amp; security by Cloudflare</p></body></html>",
        ),
    ],
)
def test_stock_refusals_of_web_servers_and_cdns_accuse_nobody(
    status: int, headers: tuple[tuple[str, str], ...], html: str
) -> None:
    verdict, _, evidence = _verdict(html, status, headers)
    assert verdict == "accessible", evidence


def test_a_notice_word_inside_a_longer_word_is_not_the_notice() -> None:
    """Bulgarian "вход" (log in) is not the start of Russian "входит" (is among)."""
    page = "<html><body><p>Ресурс не входит в перечень разрешенных.</p></body></html>"
    verdict, _, evidence = _verdict(page)
    assert verdict == "blocked", evidence


@pytest.mark.parametrize(
    ("status", "headers", "html"),
    [
        (
            403,
            (("x-azure-ref", "20261201T000000Z-abc"),),
            "<html><head><title>The request is blocked.</title></head><body>"
            "<h2>The request is blocked.</h2><p>20261201T000000Z-abc</p></body></html>",
        ),
        (
            403,
            (),
            "<html lang='ko'><head><title>요청이 차단되었습니다</title></head><body>"
            "<h2>웹 방화벽에 의해 요청이 차단되었습니다</h2>"
            "<p>사이트 관리자에게 문의해 주십시오.</p></body></html>",
        ),
        (
            405,
            (),
            "<html lang='zh-CN'><body><h2>您的访问被阻断。</h2><p>网站应用防火墙</p></body></html>",
        ),
        (
            200,
            (),
            "<html><head><title>YouTube</title></head><body><p>This content is not available on "
            "this country domain due to a legal complaint from the government.</p></body></html>",
        ),
    ],
)
def test_site_firewalls_and_the_services_legal_notices_accuse_nobody(
    status: int, headers: tuple[tuple[str, str], ...], html: str
) -> None:
    verdict, _, evidence = _verdict(html, status, headers, service="youtube")
    assert verdict == "accessible", evidence


def test_forefront_tmg_is_named_by_its_denied_url_error() -> None:
    page = (
        "<html><head><title>Pogreška: Odbijen pristup</title></head><body><p>Kod pogreške: 502 "
        "Proxy Error. Forefront TMG odbija navedeni URL. (12202)</p></body></html>"
    )
    verdict, technique, evidence = _verdict(page, 502, (("Via", "1.1 TMG01"),))
    assert (verdict, technique) == ("blocked", "http-blockpage"), evidence
    assert "Forefront TMG" in evidence


def test_a_home_page_in_place_of_the_service_is_no_accusation() -> None:
    """An organisation's own home page names the organisation and links to its policies: it
    speaks of the site itself, not of access. The same page saying it cannot be opened does."""
    home = (
        "<html lang='da'><head><title>Forside – Kommune</title></head><body><nav><a href='/'>"
        "Borger</a> <a href='/politik'>Politik</a></nav><h1>Velkommen til kommunens hjemmeside"
        "</h1><p>Book tid i Borgerservice.</p></body></html>"
    )
    verdict, _, evidence = _verdict(home)
    assert verdict != "blocked", evidence
    notice = home.replace("Book tid i Borgerservice.", "Siden kan ikke åbnes fra kommunens net.")
    verdict, technique, evidence = _verdict(notice)
    assert (verdict, technique) == ("blocked", "http-blockpage"), evidence


@pytest.mark.parametrize(
    ("status", "html"),
    [
        (
            403,
            "<html><head><title>Request Denied</title></head><body><h2>Request Denied For "
            "Security Reasons</h2><p>Запрос отклонён фильтром безопасности сайта.</p>"
            "</body></html>",
        ),
        (
            403,
            "<html lang='ro'><head><title>Acces interzis</title></head><body><h1>403 – Acces "
            "interzis</h1><p>Adresa ta IP a fost blocată temporar de sistemul de securitate al "
            "acestui site.</p></body></html>",
        ),
        (
            200,
            "<html lang='pl'><head><title>Portal Miejski</title></head><body><h3>Zanim przejdziesz"
            " do serwisu</h3><p>Korzystamy z plików cookie. Kliknij, aby wyrazić zgodę.</p>"
            "<a href='/polityka-prywatnosci'>Polityka prywatności</a></body></html>",
        ),
    ],
)
def test_a_sites_own_guard_and_consent_accuse_nobody(status: int, html: str) -> None:
    verdict, _, evidence = _verdict(html, status)
    assert verdict != "blocked", evidence


@pytest.mark.parametrize(
    ("headers", "html", "vendor"),
    [
        ((("Location", "http://internetpositif.id/?u=x.com"),), "", "Internet Positif"),
        ((), "<iframe src='http://10.10.34.34?type=Invalid'></iframe>", "Iran"),
        ((("Location", "http://warning.or.kr/i1.html"),), "", "KCSC"),
    ],
)
def test_national_filters_are_named_by_their_notice_pages(
    headers: tuple[tuple[str, str], ...], html: str, vendor: str
) -> None:
    status = 302 if headers else 200
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status, headers)
    assert verdict == "blocked", evidence
    assert vendor in evidence


@pytest.mark.parametrize(
    ("status", "headers", "html"),
    [
        (
            200,
            (),
            "<html><body><h2>We value your privacy</h2><p>We and our 142 partners store and/or "
            "access information on a device, such as cookies.</p></body></html>",
        ),
        (
            451,
            (),
            "<html><head><title>451: Unavailable due to legal reasons</title></head><body><p>You "
            "are accessing this website from the European Economic Area, which enforces the GDPR;"
            " access cannot be granted at this time.</p></body></html>",
        ),
        (
            503,
            (),
            "<html lang='pt'><body><h1>Estamos em manutenção</h1><p>O sistema de notas fiscais "
            "estará indisponível até segunda-feira. Secretaria Municipal da Fazenda</p></body>"
            "</html>",
        ),
        (
            403,
            (),
            "<html><head><title>Web Page Blocked</title></head><body><p>Attack ID: 20000051</p>"
            "<p>Your request was blocked as a possible SQL injection. Contact the site "
            "administrator.</p></body></html>",
        ),
        (
            403,
            (),
            "<html lang='pl'><body><p>Nie masz uprawnień do przeglądania tego działu. Musisz się "
            "zalogować, aby zobaczyć tę stronę.</p></body></html>",
        ),
    ],
)
def test_consent_legal_maintenance_waf_and_sign_in_notices_accuse_nobody(
    status: int, headers: tuple[tuple[str, str], ...], html: str
) -> None:
    verdict, _, evidence = _verdict(html, status, headers)
    assert verdict != "blocked", evidence


def test_a_court_order_with_451_and_a_mobile_operators_age_check_are_blocks() -> None:
    court = (
        "<html lang='pt'><head><title>Conteúdo indisponível</title></head><body><h1>Conteúdo "
        "indisponível por determinação judicial</h1><p>Em cumprimento de ordem judicial, o "
        "acesso a este endereço foi suspenso pela operadora.</p></body></html>"
    )
    verdict, _, evidence = _verdict(court, 451)
    assert verdict == "blocked", evidence
    lock = (
        "<html><head><title>Content Lock</title></head><body><h1>This site is restricted by "
        "Content Lock</h1><p>Your mobile plan has Content Lock on until the account holder's "
        "age is verified as 18 or over.</p></body></html>"
    )
    verdict, _, evidence = _verdict(lock)
    assert verdict == "blocked", evidence


def test_cloudflare_gateway_blocks_while_cloudflares_own_errors_do_not() -> None:
    ray = "<p>Ray ID: 8a1f3e2b7c6d9e10</p>"
    gateway = (
        "<html><head><title>Blocked | Cloudflare Gateway</title></head><body><h1>This website "
        f"has been blocked by your organization</h1>{ray}</body></html>"
    )
    verdict, _, evidence = _verdict(gateway, 403, (("Server", "cloudflare"),))
    assert verdict == "blocked", evidence
    own_error = (
        "<html lang='ja'><head><title>アクセスが拒否されました</title></head><body>"
        f"<p>Cloudflare エラー 1020</p><h1>アクセスが拒否されました</h1>{ray}</body></html>"
    )
    verdict, _, evidence = _verdict(own_error, 403, (("Server", "cloudflare"),))
    assert verdict == "accessible", evidence


def test_cookies_in_hebrew_and_a_closure_in_bengali() -> None:
    cookies = (
        "<html lang='he'><body><p>אתר זה משתמש בעוגיות כדי לשפר את חוויית הגלישה.</p>"
        "<a href='/privacy'>מדיניות פרטיות</a></body></html>"
    )
    verdict, _, evidence = _verdict(cookies)
    assert verdict != "blocked", evidence
    closed = "<html lang='bn'><body><h1>সাইটটি বন্ধ করা হয়েছে</h1></body></html>"
    verdict, _, evidence = _verdict(closed)
    assert verdict == "blocked", evidence


@pytest.mark.parametrize(
    ("html", "vendor"),
    [
        (
            "<h1>Accesso al sito inibito</h1><p>Il sito è stato oscurato in esecuzione di un "
            "provvedimento dell'autorità giudiziaria.</p>",
            "AGCOM/ADM order (Italy)",
        ),
        (
            "<p>Доступ к ресурсу ограничен на основании решения. Подробнее: "
            "https://blocklist.rkn.gov.ru/</p>",
            "Roskomnadzor (Russia)",
        ),
        (
            "<p>Access to this website has been blocked under an order of the High Court.</p>",
            "High Court order (UK)",
        ),
    ],
)
def test_national_orders_are_blocks_named_in_a_sentence_that_reads(html: str, vendor: str) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", 200)
    assert verdict == "blocked", evidence
    assert f" {vendor} block page" in evidence
    assert " a a" not in evidence  # the article is chosen for the name ("an AGCOM...")


@pytest.mark.parametrize(
    ("status", "html"),
    [
        # the service removed a video for breaking its own rules, in Turkish
        (
            200,
            "<title>YouTube</title><p>Video kullanılamıyor</p><p>Bu video, YouTube'un Topluluk "
            "Kuralları'nı ihlal ettiği için kaldırıldı.</p>",
        ),
        # Cloudflare's site-firewall error translated: its number and Ray ID, no English
        (
            403,
            "<title>Η πρόσβαση απορρίφθηκε</title><h1>Σφάλμα 1020</h1><h2>Η πρόσβαση "
            "απορρίφθηκε</h2><p>Ray ID: 8a1b00aa11bb22cc</p>",
        ),
    ],
)
def test_a_service_citing_its_own_rules_and_a_translated_cdn_error_accuse_nobody(
    status: int, html: str
) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status)
    assert verdict == "accessible", evidence


@pytest.mark.parametrize(
    ("status", "html", "family"),
    [
        (
            200,
            "<div id='cmp'><p>Wij en onze partners slaan gegevens op een apparaat op.</p>"
            "<button>Akkoord</button></div>",
            "consent-wall",
        ),
        (200, "<p>เว็บไซต์นี้ใช้คุกกี้เพื่อประสบการณ์ที่ดี</p><button>ยอมรับ</button>", "consent-wall"),
        (200, "<h2>Är du över 20 år?</h2><p>Du måste ha fyllt 20.</p>", "age-gate"),
        (
            403,
            "<h2>این سرویس در منطقه شما ارائه نمی‌شود</h2><p>به دلیل محدودیت‌های قانون صادرات</p>",
            "content-unavailable",
        ),
        (
            403,
            "<h2>Votre requête a été rejetée par notre pare-feu applicatif</h2><p>Le contenu "
            "ressemble à une tentative d'attaque. Identifiant de support : 1847209938</p>",
            "site-waf",
        ),
        (
            200,
            "<h2>Tên miền này đã được đăng ký</h2><p>Liên hệ nhà đăng ký.</p>",
            "server-default-page",
        ),
        (
            403,
            "<h1>Teie päring on blokeeritud</h1><p>Meie veebirakenduse tulemüür tuvastas "
            "päringus kahtlase sisu.</p>",
            "site-waf",
        ),
        (
            403,
            "<h1>Pristup je odbijen</h1><p>Zaštitni sistem ovog sajta blokirao je vaš zahtev.</p>",
            "site-waf",
        ),
        (
            200,
            "<h1>Deluje!</h1><p>To je privzeta stran spletnega strežnika.</p>",
            "server-default-page",
        ),
        (
            200,
            "<h1>Identifique-se no gov.br com:</h1><form><input name='cpf'></form>"
            "<p>Login com seu banco · Seu certificado digital</p>",
            "login-wall",
        ),
        (200, "<h2>หมดเวลาการใช้งาน</h2><p>กรุณาเข้าสู่ระบบอีกครั้ง</p>", "login-wall"),
        (
            200,
            "<p>Ce contenu est hébergé par un tiers (YouTube). En l'affichant, vous acceptez "
            "ses conditions d'utilisation et ses cookies.</p><button>Autoriser</button>",
            "consent-wall",
        ),
        (
            500,
            "<h1>Erreur interne du serveur</h1><p>Une erreur inattendue s'est produite.</p>",
            "server-error",
        ),
    ],
)
def test_real_pages_families_in_more_languages(status: int, html: str, family: str) -> None:
    match = lookalike_match(
        status, (), f"<html><body>{html}</body></html>", None, requested_host="x.com"
    )
    assert match is not None
    assert match[0] == family
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status)
    assert verdict == "accessible", evidence


def test_a_small_page_whose_logo_comes_from_a_filter_host_is_a_block_page() -> None:
    page = "<img src='http://filter.cityhall.example/img/seal.png'><p>Ref: WF-2024-88417</p>"
    verdict, _, evidence = _verdict(f"<html><body>{page}</body></html>", 200)
    assert verdict == "blocked", evidence
    assert "filter.cityhall.example" in evidence
    # the same page with its logo from a CDN is only a brief page in doubt, not a block
    cdn = page.replace("filter.cityhall", "cdn.cityhall")
    verdict, _, evidence = _verdict(f"<html><body>{cdn}</body></html>", 200)
    assert verdict != "blocked", evidence


def test_vietnamese_d_with_stroke_folds_as_d() -> None:
    # "không được phép" is typed with đ; the lexicon writes it with d
    assert speaks_of_access("<p>Trang web này không được phép truy cập từ mạng nội bộ.</p>")


def test_a_401_challenge_is_a_sign_in_not_a_block_whatever_the_page_says() -> None:
    page = (
        "<title>Intranet - Acceso restringido</title><h2>Acceso restringido al personal</h2>"
        "<p>Identifíquese con su usuario y contraseña de dominio.</p>"
    )
    challenge = (("WWW-Authenticate", "NTLM"), ("WWW-Authenticate", "Negotiate"))
    verdict, _, evidence = _verdict(f"<html><body>{page}</body></html>", 401, challenge)
    assert verdict == "inconclusive", evidence
    assert "asked for credentials (NTLM, Negotiate)" in evidence
    # without the challenge, the same words in place of the channel are a refusal
    verdict, _, evidence = _verdict(f"<html><body>{page}</body></html>", 401)
    assert verdict == "blocked", evidence


@pytest.mark.parametrize(
    ("status", "html"),
    [
        (511, "<h1>WLAN im Zug</h1><p>Bitte melden Sie sich an.</p>"),
        (
            200,
            "<h2>Connect to the internet</h2><p>Complimentary Wi-Fi for our guests. Please sign "
            "in with your room number and last name.</p><form action='/login'><input name='room'>"
            "<input type='hidden' name='url' value='http://www.facebook.com/'></form>",
        ),
    ],
)
def test_a_captive_portal_is_the_probes_own_network_not_a_block(status: int, html: str) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status)
    assert verdict == "inconclusive", evidence
    assert "captive portal" in evidence


def test_a_hotels_block_page_that_names_its_wifi_is_still_a_block() -> None:
    _assert_blocked(
        "<title>Site blocked</title><h1>This site is blocked on the guest Wi-Fi</h1>"
        "<p>Social networks are not allowed on our guest network. Please see the terms of use.</p>"
    )


def _assert_blocked(page: str) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{page}</body></html>", 200)
    assert verdict == "blocked", evidence


def test_an_article_about_filtering_is_no_notice() -> None:
    article = (
        "<title>Warum ist eine Webseite gesperrt? – IT-Wissensdatenbank</title>"
        "<h1>Warum ist eine Webseite gesperrt?</h1><p>KB0001274 · Kategorie: Internet · "
        "Zuletzt aktualisiert: 03.02.2025</p><p>Statt der Seite erscheint ein Hinweis, dass der "
        "Zugriff nicht erlaubt ist: die Seite ist gesperrt.</p>"
    )
    verdict, _, evidence = _verdict(f"<html><body>{article}</body></html>", 200)
    assert verdict == "inconclusive", evidence
    assert "an article of another site" in evidence
    # a block page with one such mark in its template (a knowledge-base link) stays a block
    _assert_blocked(
        "<title>Seite gesperrt</title><h1>Diese Seite ist gesperrt</h1><p>Der Zugriff ist "
        "nach der Richtlinie nicht erlaubt.</p><a href='/kb'>Wissensdatenbank</a>"
    )
    # nor does a notice inside an <article> element with its timestamp as a field
    _assert_blocked(
        "<article><h1>Zugriff verweigert</h1><p>Diese Seite ist gesperrt.</p><p>Zeitpunkt: "
        "14.03.2025, 11:02:48 · Zuletzt aktualisiert: 14. März 2025</p></article>"
    )


def test_a_question_heading_is_a_help_page_not_a_refusal_up_front() -> None:
    asks = generic_cues("<h1>¿Por qué una página aparece bloqueada?</h1><p>Texto.</p>")
    says = generic_cues("<h1>Página bloqueada</h1><p>Texto.</p>")
    assert not asks.headline
    assert says.headline


def test_a_page_titled_as_a_home_page_presents_the_site() -> None:
    home = (
        "<title>Portail informatique — Accueil</title><h1>Que pouvons-nous faire pour vous ?</h1>"
        "<a href='/acces'>Demander l'accès à une application</a>"
    )
    assert about_itself(f"<html><body>{home}</body></html>", "Portail informatique — Accueil")
    assert not speaks_of_access(
        f"<html><body>{home}</body></html>", "Portail informatique — Accueil"
    )
    # a title that only contains the word is no home page ("Homework help")
    assert not about_itself("<p>x</p>", "Homework help")
    # and a home page that says the site cannot be opened still refuses
    assert not about_itself("<p>Ce site n'est pas accessible depuis le réseau.</p>", "Accueil")


@pytest.mark.parametrize(
    ("code", "heading", "expected", "said"),
    [
        ("DNS_PROBE_FINISHED_NXDOMAIN", "This site can't be reached", "inconclusive",
         "browser's own error page"),
        ("ERR_BLOCKED_BY_ADMINISTRATOR", "www.facebook.com is blocked", "blocked",
         "browser policy"),
    ],
)  # fmt: skip
def test_a_browsers_own_error_page_is_no_verdict_but_its_policy_block_is(
    code: str, heading: str, expected: str, said: str
) -> None:
    page = (
        f"<body class='neterror'><div id='main-message'><h1>{heading}</h1><p>Check "
        f"www.instagram.com.</p><div class='error-code'>{code}</div></div></body>"
    )
    verdict, _, evidence = _verdict(f"<html>{page}</html>", 200)
    assert verdict == expected, evidence
    assert said in evidence


@pytest.mark.parametrize(
    ("status", "html", "expected"),
    [
        # a news story quoting a block page: the quotation is not the page's own refusal
        (
            200,
            "<article><h1>Regulator orders a social network blocked</h1><p>Users saw a page "
            "reading “Access denied: this site is blocked by your network administrator”.</p>"
            "<p>Published on 14 June · 5 min read</p></article>",
            "inconclusive",
        ),
        # a product's guide with its template's placeholders
        (
            200,
            "<title>Customizing the block page | Administration Guide</title><p>When a user "
            "visits a blocked category, the firewall returns a replacement message.</p>"
            "<pre>%%URL%% has been blocked. Category: %%CATEGORY%%</pre>",
            "inconclusive",
        ),
        # a service holds a feature back for a while: its own limit
        (
            200,
            "<p>Du hast in kurzer Zeit sehr viele Nachrichten verschickt. Das Senden von "
            "Nachrichten ist für dich deshalb für 24 Stunden gesperrt.</p>",
            "accessible",
        ),
        (451, "<h2>Цей контент недоступний у вашій країні</h2>", "accessible"),
        # a mobile operator's parental control on the line is a network's block
        (
            200,
            "<h1>Sorry, this site isn't available right now</h1><p>Content Lock is switched on "
            "for this number. If you're 18 or over, sign in and verify your age.</p>",
            "blocked",
        ),
        # a town's home page with "follow us" links: the site's own, whatever its news say
        (
            200,
            "<h1>Municipalidad</h1><p>La circulación estará prohibida entre las calles 5 y 9. Los "
            "vehículos no autorizados serán retirados.</p><a href='https://www.facebook.com/'>"
            "Facebook</a> <a href='https://x.com/'>X</a>",
            "inconclusive",
        ),
        # a policy in numbered sections, as adopted: a document, not a notice
        (
            200,
            "<h1>Social Media Use Policy</h1><p>Adopted by City Council Resolution 2023-41.</p>"
            "<h2>3. Employee access</h2><p>Access to social networking sites from city devices "
            "is blocked for most employees.</p><h2>4. Comments</h2><p>Users may be blocked.</p>",
            "inconclusive",
        ),
        # the owner of a page or a workspace restricted it: the service's own words
        (
            200,
            "<h2>This Page is restricted by age</h2><p>The Page owner has restricted who can see "
            "this Page. Log in to confirm that you're old enough to view it.</p>",
            "accessible",
        ),
        (
            403,
            "<h1>This workspace has been deactivated</h1><p>The owner of cityplanning has turned "
            "off access for your account.</p>",
            "accessible",
        ),
        # consent asked for cookies, or a subscription without ads ("pay or okay")
        (
            200,
            "<h1>Wij vragen uw toestemming</h1><p>Akkoord gaan met cookies en advertenties, of een "
            "abonnement zonder advertenties nemen.</p>",
            "accessible",
        ),
        # a server's own "no permission to view this directory", translated
        (
            403,
            "<h1>403 – Dostęp zabroniony</h1><p>Nie masz uprawnień do przeglądania tego katalogu "
            "na serwerze.</p>",
            "accessible",
        ),
        # Cloudflare's numbered error with its Ray ID, in Spanish
        (
            403,
            "<h1>Acceso denegado</h1><span>Código de error 1009</span><p>ID de Ray: "
            "7b2e90aa11c4d3f2</p>",
            "accessible",
        ),
        # a Wi-Fi that asks to sign up before browsing
        (
            200,
            "<h2>Wi-Fi Livre na Praça</h2><p>Cadastre-se com CPF para navegar gratuitamente por 2 "
            "horas.</p>",
            "inconclusive",
        ),
        # an authority's order stops access "for now": a block all the same
        (
            200,
            "<h2>تم إيقاف الوصول إلى هذه المنصة مؤقتاً</h2><p>استناداً إلى قرار الجهات المختصة، "
            "يتعذر الوصول إلى هذه الخدمة عبر شبكات مزودي الإنترنت.</p>",
            "blocked",
        ),
        # a site's firewall judged the request, in Japanese
        (
            403,
            "<h1>403</h1><p>不正なリクエストと判断されたため、お客様のアクセスを一時的に制限して"
            "おります。</p>",
            "accessible",
        ),
        # a café's hotspot asks for its voucher; an agency's network for its terms, once
        (
            200,
            "<h2>Kopi Senja Wi-Fi</h2><p>Masukkan kode voucher.</p><form name='login' "
            "action='http://hotspot.kopi.example/login'><input type='hidden' name='dst' "
            "value='http://www.facebook.com/'><input name='username'></form>",
            "inconclusive",
        ),
        (
            200,
            "<h2>Before you continue to the internet</h2><p>Devices on this network must "
            "acknowledge the acceptable use terms once every 30 days.</p><form action='/aup'>"
            "<button>I accept</button></form>",
            "inconclusive",
        ),
        # a service for some countries, that sees the VPN
        (
            403,
            "<h1>We're not in your country yet</h1><p>StreamNest is currently available in the "
            "United States and Canada only.</p><p>Using a VPN? Turn it off.</p>",
            "accessible",
        ),
        # a site's WordPress firewall, in Spanish
        (
            403,
            "<h1>Tu acceso a este sitio ha sido limitado por el propietario del sitio</h1><p>"
            "Bloqueo generado por Wordfence.</p>",
            "accessible",
        ),
        # a gateway that could not connect, in Russian
        (
            502,
            "<h2>Веб-сервер недоступен</h2><p>Прокси-сервер организации не смог установить "
            "соединение с сервером: удалённый узел не ответил в течение 30 секунд.</p>",
            "inconclusive",
        ),
        # a regulator's directive, in Nepali (a language of the added files)
        (
            200,
            "<html lang='ne'><h2>यो साइटमा पहुँच बन्द गरिएको छ</h2><p>नेपाल दूरसञ्चार "
            "प्राधिकरणको निर्देशन बमोजिम पहुँच रोकेको छ।</p></html>",
            "blocked",
        ),
        # Cloudflare's error page in Spanish, by its markup and footer
        (
            403,
            "<div id='cf-wrapper'><h1>Error 1020</h1><h2>Acceso denegado</h2><p>ID de Cloudflare "
            "Ray: 86a1ffe9cd20aa11 • Rendimiento y seguridad de Cloudflare</p></div>",
            "accessible",
        ),
        # free Wi-Fi that asks to register, in Spanish and Portuguese
        (
            200,
            "<h1>Conéctate al WiFi gratuito</h1><p>Regístrate con tu correo.</p><form><input "
            "type='email'><button>Navegar gratis</button></form>",
            "inconclusive",
        ),
        (
            200,
            "<h2>Wi-Fi Livre</h2><p>Para usar a internet gratuita nas estações, informe seu CPF e "
            "aceite os termos.</p><form><input name='cpf'><button>Entrar</button></form>",
            "inconclusive",
        ),
        # the hosting speaks to the site's owner, in Russian
        (
            403,
            "<h1>Доступ к сайту запрещён</h1><p>Сайт временно отключён владельцем аккаунта "
            "хостинга. Если вы владелец сайта, обратитесь в панель управления.</p>",
            "accessible",
        ),
        # Turkey's standard wording of an access ban
        (
            200,
            "<p>Bu internet sitesi hakkında verilen karar kapsamında erişim engeli "
            "uygulanmaktadır.</p>",
            "blocked",
        ),
    ],
)
def test_pages_that_speak_of_blocking_without_a_network_refusing_and_the_ones_that_do(
    status: int, html: str, expected: str
) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status)
    assert verdict == expected, evidence


def test_in_a_language_without_known_page_families_only_a_refusal_accuses() -> None:
    # Sinhala: the lexicon reads it, but knows none of its consent, sign-in or error pages
    portal = (
        "<html lang='si'><body><h2>ගුවන්තොටුපළ නොමිලේ Wi-Fi</h2><p>ජාලයට සම්බන්ධ වීමට ඔබගේ "
        "දුරකථන අංකය ඇතුළත් කරන්න. ප්‍රවේශය පැය 2 කට.</p></body></html>"
    )
    assert not families_known(portal)
    verdict, _, evidence = _verdict(portal, 200)
    assert verdict == "inconclusive", evidence
    assert families_known("<html lang='es'><body>x</body></html>")
    assert not families_known("<html><body><p>Կայքը արգելափակված է</p></body></html>")


_SQUID_PAGE = (
    "<h1>ERROR</h1><p>The requested URL could not be retrieved.</p>"
    "<p>Contact the administrator.</p>"
)


@pytest.mark.parametrize(
    ("status", "headers", "html", "expected", "said"),
    [
        # a proxy on the path asks who the user is: never a block
        (407, (("Proxy-Authenticate", "Basic realm=proxy"),), "<h1>Cache Access Denied</h1>",
         "inconclusive", "requires authentication (407)"),
        # squid's own failures are no refusals; its denial is
        (503, (("X-Squid-Error", "ERR_DNS_FAIL 0"),), _SQUID_PAGE, "inconclusive", "ERR_DNS_FAIL"),
        (403, (("X-Squid-Error", "ERR_ACCESS_DENIED 0"),), _SQUID_PAGE, "blocked", "Squid"),
        # an agency's own deny_info page keeps its template's name: a denial too
        (403, (("X-Squid-Error", "ERR_ACCESO_RESTRINGIDO 0"),),
         "<h2>Acceso restringido</h2><p>El recurso no se encuentra disponible desde la red "
         "institucional.</p>", "blocked", "block page"),
        # ProxySG's exception page for a name it could not resolve
        (503, (("Server", "BlueCoat-Security-Appliance"),),
         "<big>Network Error (dns_unresolved_hostname)</big><p>Your requested host could not be "
         "resolved by DNS.</p>", "inconclusive", "dns_unresolved_hostname"),
        # sent to a Wi-Fi's sign-in, handed the address to come back to
        (302, (("Location", "http://portal.wifi.example/login?orig=http%3A%2F%2Fwww.facebook.com%2F"),),
         "", "inconclusive", "sign in at portal.wifi.example"),
    ],
)  # fmt: skip
def test_proxies_asking_or_failing_and_sign_ins_are_no_blocks(
    status: int, headers: tuple[tuple[str, str], ...], html: str, expected: str, said: str
) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status, headers)
    assert verdict == expected, evidence
    assert said in evidence


def test_the_services_own_footer_policies_are_no_network_rules() -> None:
    nojs = (
        "<title>X</title><h1>JavaScript is not available.</h1><p>Please enable JavaScript to "
        "continue using x.com.</p><p>Terms of Service · Privacy Policy · Cookie Policy</p>"
    )
    verdict, _, evidence = _verdict(f"<html><body>{nojs}</body></html>", 200, service="x")
    assert verdict == "accessible", evidence


@pytest.mark.parametrize(
    ("status", "headers", "html", "expected"),
    [
        # the service titled in its own script, saying a page is not available
        (200, (), "<title>فيسبوك</title><h2>هذه الصفحة غير متاحة</h2><p>ربما تمت إزالة الصفحة.</p>",
         "accessible"),
        # a gateway that could not reach the site, in its own words
        (502, (), "<h2>The website could not be reached</h2><p>The server did not respond to the "
         "gateway in time. Please try again; contact your IT helpdesk if it persists.</p>",
         "inconclusive"),
        # Cloudflare's own 522 is its front's page, not a proxy on the path
        (522, (("Server", "cloudflare"),), "<h1>Connection timed out</h1><p>Error code 522</p>"
         "<p>Cloudflare Ray ID: 8a1b00aa11bb22cc</p>", "accessible"),
        # a Wi-Fi that asks to accept its terms before connecting
        (200, (), "<h1>Free Wi-Fi</h1><form action='https://wifi.portal.example/connect'><input "
         "type='email' name='email'><label><input type='checkbox'> I agree to the Terms &amp; "
         "Conditions</label><button>Connect</button></form>", "inconclusive"),
    ],
)  # fmt: skip
def test_native_titles_gateway_failures_cdn_errors_and_wifi_terms(
    status: int, headers: tuple[tuple[str, str], ...], html: str, expected: str
) -> None:
    verdict, _, evidence = _verdict(f"<html><body>{html}</body></html>", status, headers)
    assert verdict == expected, evidence


def test_a_picture_named_blocked_on_a_sites_own_host_is_no_filter_host() -> None:
    page = "<img src='https://static.example.com/assets/snoo-blocked.png'><p>Hello.</p>"
    cues = page_structure(body=page, headers=(), requested="http://www.facebook.com/")
    assert not any("loads its pictures" in s for s in cues.signs)
    page = page.replace("static.example.com", "blockpage.filter.example")
    cues = page_structure(body=page, headers=(), requested="http://www.facebook.com/")
    assert any("loads its pictures" in s for s in cues.signs)
