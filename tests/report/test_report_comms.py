"""The comms report as a person reads it, on the lab's real results (``sample_results/lab``,
judged against ``policies/lab.yaml``) in Spanish and English: the one-screen summary of the
official channels first, then the service functions with networks grouped, display names,
plural forms, the same answer words everywhere, advice that names what *blocks* (a real config
line when one is given, never the rule that allows), no machine path, charts with titles, axes
and units, an appendix with per-target details. The small synthetic fleet (three days) checks
"since when" and a squid config's blocking line."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.report import comms
from netcheck.report.i18n import messages
from netcheck.report.make import load_table
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario
from tests.support.paths import ROOT

LAB = ROOT / "sample_results" / "lab"
LAB_POLICY = ROOT / "policies" / "lab.yaml"  # absolute on purpose: it must not show


def _rule_line(path: Path | str, rule_id: str) -> int:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == f"- id: {rule_id}")


def _visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, no style, entities decoded)."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def lab() -> dict[str, tuple[comms.CommsReport, str, str]]:
    files = sorted(str(p) for p in LAB.glob("*.jsonl"))
    assert files, "sample_results/lab is empty: scripts/make-samples makes it"
    frame, policy = load_table(files, str(LAB_POLICY))
    out = {}
    for lang in ("es", "en"):
        report = comms.build(frame, policy, lang)
        out[lang] = (report, comms.render_html(report), comms.render_markdown(report))
    return out


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_summary_of_official_channels_comes_first(lab: dict, lang: str) -> None:
    report, html, md = lab[lang]
    m = messages(lang)
    order = [m.text(k) for k in ("summary_heading", "services_heading", "charts_heading")] + [
        m.text("appendix_heading")
    ]
    for doc in (html, md.replace("## ", "<h2>")):
        places = [doc.index(f"<h2>{heading}") for heading in order if f"<h2>{heading}" in doc]
        assert len(places) == (4 if doc is html else 3)  # Markdown has no charts
        assert places == sorted(places)
    assert html.index("<h2>") == html.index(f"<h2>{m.text('summary_heading')}")
    [card] = report.channels
    assert card.title == "YouTube — @MinisterioLab"
    answers = [line.answer for line in card.lines]
    assert answers == ["no", "partial", "partial", "yes"]  # what needs action first
    blocked = card.lines[0]
    assert blocked.networks == ["lab scenario official-path-blocked"]
    nets = sum((line.networks for line in card.lines), [])
    assert len(nets) == len(set(nets)) == 18  # every network that measured the channel, once
    works = card.lines[-1]
    assert works.sentence == m.text("line_yes", where=m.text("where_rest", n=15))
    assert works.listed is not None
    assert all(f"«{n}»" in works.listed or f"“{n}”" in works.listed for n in works.networks)
    # the summary fits a screen: one card, four lines, before any table
    summary = html[html.index('<section id="summary">') : html.index('<section id="services">')]
    assert "<table" not in summary
    assert summary.count('<li class="line') == 4


def test_spanish_sentences_name_channel_network_technique_since_and_what_blocks(
    lab: dict,
) -> None:
    report, html, _ = lab["es"]
    blocked = report.channels[0].lines[0]
    assert blocked.sentence == (
        "No funciona en la red «lab scenario official-path-blocked»: "
        "el proxy web muestra una página de bloqueo (Squid)."
    )
    assert blocked.since is not None
    assert re.fullmatch(r"Bloqueado desde el \d\d/\d\d/2026 \d\d:\d\d UTC\.", blocked.since)
    social = _rule_line(LAB_POLICY, "social")
    assert blocked.ask == [
        "Pida a TI que busque en el proxy web la regla que bloquea www.youtube.com: la política "
        f"lo permite (regla «social», lab.yaml:{social}), así que es un autobloqueo."
    ]
    slowed = next(
        line for line in report.channels[0].lines if "lab scenario throttled" in line.networks
    )
    assert "emitir en directo funciona solo en parte" in slowed.sentence
    live = _rule_line(LAB_POLICY, "live-ingest")
    assert (
        "Pida a TI que revise qué limita la velocidad de a.rtmps.youtube.com: la política exige "
        f"10 Mbit/s (regla «live-ingest», lab.yaml:{live})." in slowed.ask
    )
    assert blocked.sentence in _visible(html)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_advice_never_asks_to_review_the_rule_that_allows(lab: dict, lang: str) -> None:
    report, html, md = lab[lang]
    asks = [
        a for card in report.channels + report.services for line in card.lines for a in line.ask
    ]
    assert asks
    for ask in asks:
        assert not re.search(r"(revise la regla|review the rule) .social", ask), ask
        assert re.search(r"(bloquea|blocks|velocidad de|speed of) \S+\.\S+", ask), ask
    # every line that does not work says what to ask IT
    for card in report.channels + report.services:
        for line in card.lines:
            assert bool(line.ask) == (line.answer in ("no", "partial")), line


@pytest.mark.parametrize("lang", ["es", "en"])
def test_display_names_never_lower_case_ids(lab: dict, lang: str) -> None:
    report, html, md = lab[lang]
    stream, admin = (
        ("emitir en directo", "administrar el canal")
        if lang == "es"
        else (
            "stream live",
            "administer the channel",
        )
    )
    titles = [card.title for card in report.services]
    assert f"X (Twitter) — {stream}" in titles
    assert f"YouTube — {admin}" in titles
    ids = "|".join(("facebook", "youtube", "x", "instagram", "linkedin", "tiktok", "telegram"))
    for text in (_visible(html), md):
        without_urls = re.sub(r"\b[\w.-]+\.(com|net|be|org)\S*", " ", text)
        assert not re.search(rf"(?<![\w.])({ids})\b(?!\.)", without_urls), re.search(
            rf"(?<![\w.])({ids})\b(?!\.)", without_urls
        )
        assert f"X (Twitter) — {stream}" in text


@pytest.mark.parametrize("lang", ["es", "en"])
def test_one_set_of_answer_words_in_summary_table_and_cards(lab: dict, lang: str) -> None:
    report, html, md = lab[lang]
    m = messages(lang)
    words = {m.answer(a) for a in ("yes", "partial", "no", "unknown")}
    for card in report.channels + report.services:
        for line in card.lines:
            assert line.answer_text in words
            assert line.sentence.lower().startswith(line.answer_text), line.sentence
    for word in words:  # the services table's columns are the same words
        assert f'<th scope="col">{word}</th>' in html
    text = _visible(html)
    if lang == "es":
        assert "no se puede ver" not in text
        for hit in re.finditer(r"en parte", text):
            assert re.search(r"[Ff]unciona(n)? (solo )?$", text[: hit.start()]), text[
                hit.start() - 40 : hit.end()
            ]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_plural_forms_and_no_machine_path(lab: dict, lang: str) -> None:
    report, html, md = lab[lang]
    probe, nets = (
        ("1 sonda en 22 redes", "1 sondas")
        if lang == "es"
        else (
            "1 probe on 22 networks",
            "1 probes",
        )
    )
    assert probe in report.intro
    for doc in (html, md):
        assert nets not in doc
        assert not re.search(r"\b1 (redes|mediciones|networks|measurements)\b", doc)
        assert str(LAB_POLICY.parent) not in doc
        assert not re.search(r"(?<![\w.])/(work|root|home|tmp|etc|usr)/", doc)
    assert report.policy_line.endswith("lab.yaml).")
    m = messages(lang)
    assert [m.count("probes", n) for n in (1, 2)] == (
        ["1 sonda", "2 sondas"] if lang == "es" else ["1 probe", "2 probes"]
    )
    assert m.count("networks", 0) == ("0 redes" if lang == "es" else "0 networks")


def test_charts_have_titles_axes_and_units(lab: dict) -> None:
    report, html, _ = lab["es"]
    channel, goodput = report.charts
    assert "YouTube — @MinisterioLab: en cuántas redes funciona, por hora" in channel
    assert re.search(r'<text x="0" y="16"[^>]*>YouTube — @MinisterioLab', channel)  # visible
    for axis in ("redes", "hora (UTC)", "funciona en parte", "no funciona"):
        assert f">{axis}</text>" in channel
    assert ">Mbit/s</text>" in goodput
    assert "Velocidad de descarga medida frente a la que exige la política" in goodput
    assert "YouTube en «lab scenario throttled»" in goodput
    assert ">4.8 / 10</text>" in goodput  # measured against the live-ingest rule's 10 Mbit/s
    assert ">exigida por la política</text>" in goodput


@pytest.mark.parametrize("lang", ["es", "en"])
def test_html_is_self_contained_and_printable(lab: dict, lang: str) -> None:
    _, html, _ = lab[lang]
    assert "<svg" in html
    assert "<style>" in html
    assert "@page" in html
    assert "@media print" in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"\b(src|href)\s*=", html)
    assert "url(" not in html
    assert "@import" not in html
    for url in re.findall(r"https?://[^\s\"'<>)«»“”]+", html):
        assert not url.startswith(("http://www.w3.org", "https://fonts")), url


def test_appendix_has_each_target_that_does_not_work(lab: dict) -> None:
    report, html, md = lab["es"]
    bad = report.details
    assert bad
    assert {d.answer for d in bad} <= {"no", "partial", "unknown"}
    studio = [d for d in bad if d.url == "https://studio.youtube.com/"]
    assert [d.network for d in studio] == ["lab scenario admin-blocked"]
    [d] = studio
    assert d.function == "YouTube — administrar"
    assert d.answer_text == "no funciona"
    assert d.how == "el cortafuegos corta la conexión cifrada al ver el nombre del sitio"
    assert "studio.youtube.com" in d.evidence
    assert d.probe == "nclab-client"
    assert re.fullmatch(r"\d\d/\d\d/2026 \d\d:\d\d UTC", d.measured_at)
    appendix = html[html.index('<section id="appendix">') :]
    assert d.evidence in unescape(appendix)
    assert re.search(r"Las \d+ direcciones que funcionan no se detallan", report.details_intro)


def test_since_when_and_the_squid_line_that_blocks(tmp_path: Path) -> None:
    """The synthetic fleet: the channel loaded on day 1 and shows a squid block page on days 2
    and 3 from «sede central». Given the squid config, the advice quotes its blocking line."""
    root = str(write_scenario(tmp_path / "results"))
    squid = tmp_path / "squid.conf"
    squid.write_text(
        "acl redes_sociales dstdomain .youtube.com .tiktok.com\n"
        "http_access deny redes_sociales\n"
        "http_access allow all\n",
        encoding="utf-8",
    )
    frame, policy = load_table([root], POLICY, configs=[f"squid:{squid}"])
    report = comms.build(frame, policy, "es")
    [card] = [c for c in report.channels if c.url == CHANNEL]
    line = card.lines[0]
    assert line.networks == ["sede central"]
    assert line.sentence.startswith("No funciona en la red «sede central»: el proxy web muestra")
    assert line.since == "Bloqueado desde el 27/11/2026 09:00 UTC."  # day 1 loaded, day 2 did not
    assert line.ask == [
        "squid.conf:2 (acl redes_sociales) bloquea www.youtube.com: pida a TI que revise esa línea."
    ]
    md = comms.render_markdown(report)
    assert str(tmp_path) not in md
    assert "squid.conf:2 (acl redes\\_sociales) bloquea www.youtube.com" in md  # md escapes _
    # the same through the command line
    done = CliRunner().invoke(
        app, ["report", root, "--policy", POLICY, "--config", f"squid:{squid}", "--format", "md"]
    )
    assert done.exit_code == 0, done.output
    assert "squid.conf:2 (acl redes\\_sociales) bloquea www.youtube.com" in done.stdout
    done = CliRunner().invoke(app, ["report", root, "--config", f"squid:{squid}"])
    assert done.exit_code == 2
    assert "--config needs --policy" in done.output


def test_without_a_policy_the_report_says_so_and_still_says_where_to_look(
    tmp_path: Path,
) -> None:
    frame, _ = load_table([str(write_scenario(tmp_path / "results"))], None)
    report = comms.build(frame, None, "es")
    assert "No se indicó ninguna política" in report.policy_line
    [card] = [c for c in report.channels if c.url == CHANNEL]
    assert card.lines[0].networks == ["central"]
    assert card.lines[0].ask == [
        "Pida a TI que busque en el proxy web la regla que bloquea www.youtube.com."
    ]


def test_catalogues_have_the_same_keys_placeholders_and_plural_forms() -> None:
    from netcheck.models import TECHNIQUES, RequestType
    from netcheck.report.i18n import PLURAL_FORMS, SECTIONS
    from netcheck.report.summary import PART_OF
    from netcheck.targets.catalogue import FUNCTIONS, known_services

    root = Path(comms.__file__).parent / "messages"
    es = yaml.safe_load((root / "es.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((root / "en.yaml").read_text(encoding="utf-8"))

    def fields(s: object) -> set[str]:
        return set(re.findall(r"{(\w+)}", str(s)))

    for section in (*SECTIONS, "plurals"):
        assert es[section].keys() == en[section].keys(), section
        for key in es[section]:
            assert fields(es[section][key]) == fields(en[section][key]), (section, key)
    for key in es["plurals"]:
        for lang in (es, en):
            assert set(lang["plurals"][key]) == set(PLURAL_FORMS), key
    assert set(TECHNIQUES) <= set(es["techniques"])
    assert set(known_services()) <= set(es["services"])
    assert set(FUNCTIONS) <= set(es["functions"])
    # browser mode's sentences: every technique names the hosts, every request type is worded
    assert set(TECHNIQUES) <= set(es["page_how"])
    assert all(fields(how) == {"hosts"} for how in es["page_how"].values())
    kinds = {PART_OF.get(k, k) for k in RequestType.__args__} - {"document"}  # type: ignore[attr-defined]
    assert kinds <= set(es["page_parts"])
    assert "default" in es["pages"]
