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
from netcheck.report.judge import display_network
from netcheck.report.make import load_table
from netcheck.report.state import ANSWERS, latest
from netcheck.report.summary import Card
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario
from tests.support.paths import ROOT

LAB = ROOT / "sample_results" / "lab"
LAB_POLICY = ROOT / "policies" / "lab.yaml"  # absolute on purpose: it must not show
MINISTRY = "https://www.youtube.com/@MinisterioLab"  # the official channel policies/lab.yaml names
STUDIO = "https://studio.youtube.com/"


def _rule_line(path: Path | str, rule_id: str) -> int:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == f"- id: {rule_id}")


def _visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, no style, entities decoded)."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def lab_table() -> tuple:
    """The loaded sample (frame, policy): what every expected figure is derived from."""
    files = sorted(str(p) for p in LAB.glob("*.jsonl"))
    assert files, "sample_results/lab is empty: scripts/make-samples makes it"
    return load_table(files, str(LAB_POLICY))


@pytest.fixture(scope="module")
def lab_now(lab_table: tuple):
    """The latest measurement of each (service, function, url, network), networks by name."""
    frame, policy = lab_table
    now = latest(frame)
    return now.assign(net_name=[display_network(str(n), policy) for n in now["network"]])


def _card(report: comms.CommsReport, url: str) -> Card:
    [card] = [c for c in report.channels if c.url == url]
    return card


def _nets(now, url: str, verdicts: tuple[str, ...] | None = None) -> set[str]:
    rows = now[now["url"] == url]
    if verdicts is not None:
        rows = rows[rows["verdict"].isin(verdicts)]
    return set(rows["net_name"])


@pytest.fixture(scope="module")
def lab(lab_table: tuple) -> dict[str, tuple[comms.CommsReport, str, str]]:
    frame, policy = lab_table
    out = {}
    for lang in ("es", "en"):
        report = comms.build(frame, policy, lang)
        out[lang] = (report, comms.render_html(report), comms.render_markdown(report))
    return out


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_summary_of_official_channels_comes_first(lab: dict, lab_now, lang: str) -> None:
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
    # one card per official channel measured, the policy's channel among them by its handle
    official = lab_now[lab_now["official"].astype(bool)]
    assert sorted(c.url for c in report.channels) == sorted(set(official["url"]))
    assert _card(report, MINISTRY).title == "YouTube — @MinisterioLab"
    for card in report.channels:
        answers = [line.answer for line in card.lines]
        assert answers == sorted(answers, key=ANSWERS.index)  # what needs action first
        assert answers.count("yes") <= 1
        nets = sum((line.networks for line in card.lines), [])
        # every network that measured the channel, once
        assert len(nets) == len(set(nets))
        assert set(nets) == _nets(official, card.url)
        # a channel page that is blocked does not work there; one that loads is not "no"
        no = {n for line in card.lines if line.answer == "no" for n in line.networks}
        assert no == _nets(official, card.url, ("blocked",))
        yes = {n for line in card.lines if line.answer == "yes" for n in line.networks}
        assert yes <= _nets(official, card.url, ("accessible",))
        works = card.lines[-1]
        assert works.answer == "yes"
        assert works.sentence == m.text(
            "line_yes", where=m.text("where_rest", n=len(works.networks))
        )
        assert works.listed is not None
        assert all(f"«{n}»" in works.listed or f"“{n}”" in works.listed for n in works.networks)
    assert _card(report, MINISTRY).lines[0].answer == "no"
    # the summary is lines, one per answer group of each card, before any table
    summary = html[html.index('<section id="summary">') : html.index('<section id="services">')]
    assert "<table" not in summary
    assert summary.count('<li class="line') == sum(len(c.lines) for c in report.channels)
    for card in report.channels:
        assert card.title in summary


def test_spanish_sentences_name_channel_network_technique_since_and_what_blocks(
    lab: dict, lab_now
) -> None:
    report, html, _ = lab["es"]
    card = _card(report, MINISTRY)
    blocked = card.lines[0]
    [net] = blocked.networks
    page = lab_now[(lab_now["url"] == MINISTRY) & (lab_now["net_name"] == net)]
    assert list(page["verdict"]) == ["blocked"]
    assert list(page["vendor"]) == ["squid"]  # the sample's channel block is a squid page
    assert blocked.sentence == (
        f"No funciona en la red «{net}»: el proxy web muestra una página de bloqueo (Squid)."
    )
    assert blocked.since is not None
    assert re.fullmatch(r"Bloqueado desde el \d\d/\d\d/2026 \d\d:\d\d UTC\.", blocked.since)
    social = _rule_line(LAB_POLICY, "social")
    assert blocked.ask == [
        "Pida a TI que busque en el proxy web la regla que bloquea www.youtube.com: la política "
        f"lo permite (regla «social», lab.yaml:{social}), así que es un autobloqueo."
    ]
    # the network where live ingest measured below the policy's speed
    ingest = lab_now[(lab_now["rule"] == "live-ingest") & lab_now["goodput_mbps"].notna()]
    [throttled] = set(ingest["net_name"])
    slowed = next(line for line in card.lines if throttled in line.networks)
    assert slowed.answer == "partial"
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
def test_plural_forms_and_no_machine_path(lab: dict, lab_table: tuple, lang: str) -> None:
    report, html, md = lab[lang]
    frame, _ = lab_table
    m = messages(lang)
    probes = m.count("probes", int(frame["probe_id"].nunique()))
    networks = m.count("networks", int(frame["network"].nunique()))
    records = m.count("records", len(frame))
    on = "en" if lang == "es" else "on"
    assert f"{records} {'de' if lang == 'es' else 'from'} {probes} {on} {networks}" in report.intro
    for doc in (html, md):
        assert not re.search(r"\b1 (sondas|probes|redes|mediciones|networks|measurements)\b", doc)
        assert str(LAB_POLICY.parent) not in doc
        assert not re.search(r"(?<![\w.])/(work|root|home|tmp|etc|usr)/", doc)
    assert report.policy_line.endswith("lab.yaml).")
    assert [m.count("probes", n) for n in (1, 2)] == (
        ["1 sonda", "2 sondas"] if lang == "es" else ["1 probe", "2 probes"]
    )
    assert m.count("networks", 0) == ("0 redes" if lang == "es" else "0 networks")


def test_charts_have_titles_axes_and_units(lab: dict, lab_now) -> None:
    report, html, _ = lab["es"]
    goodput_title = "Velocidad de descarga medida frente a la que exige la política"
    # one chart per official channel, then the goodput chart
    *channels, goodput = report.charts
    assert len(channels) == len(report.channels)
    for card in report.channels:
        [channel] = [c for c in channels if f"{card.title}: en cuántas redes funciona" in c]
        title = re.escape(card.title)
        assert re.search(rf'<text x="0" y="16"[^>]*>{title}: en cuántas', channel)  # visible
        for axis in ("redes", "hora (UTC)", "funciona en parte", "no funciona"):
            assert f">{axis}</text>" in channel
    assert ">Mbit/s</text>" in goodput
    assert goodput_title in goodput
    # the live-ingest network: the highest goodput measured there against the rule's speed
    ingest = lab_now[(lab_now["rule"] == "live-ingest") & lab_now["goodput_mbps"].notna()]
    [net] = set(ingest["net_name"])
    there = lab_now[(lab_now["net_name"] == net) & (lab_now["service"] == "youtube")]
    measured = float(there["goodput_mbps"].max())
    rules = yaml.safe_load(LAB_POLICY.read_text(encoding="utf-8"))["rules"]
    [required] = [r["requires"]["min_download_mbps"] for r in rules if r["id"] == "live-ingest"]
    assert measured < required  # the sample's throttled network is below what it needs
    assert f"YouTube en «{net}»" in goodput
    assert f">{measured:.1f} / {required:g}</text>" in goodput
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


def test_appendix_has_each_target_that_does_not_work(lab: dict, lab_now) -> None:
    report, html, md = lab["es"]
    bad = report.details
    assert bad
    assert {d.answer for d in bad} <= {"no", "partial", "unknown"}
    # one row per target and network whose latest measurement did not load
    failing = lab_now[lab_now["verdict"] != "accessible"]
    assert sorted((d.url, d.network) for d in bad) == sorted(
        zip(failing["url"].astype(str), failing["net_name"], strict=True)
    )
    studio = [d for d in bad if d.url == STUDIO]
    assert {d.network for d in studio} == _nets(lab_now, STUDIO) - _nets(
        lab_now, STUDIO, ("accessible",)
    )
    assert all(d.function == "YouTube — administrar" for d in studio)
    # the studio blocked by a reset at the name of the site
    reset = lab_now[
        (lab_now["url"] == STUDIO)
        & (lab_now["verdict"] == "blocked")
        & (lab_now["technique"] == "tls-reset")
    ]
    [net] = set(reset["net_name"])
    [d] = [d for d in studio if d.network == net]
    assert d.answer_text == "no funciona"
    assert d.how == "el cortafuegos corta la conexión cifrada al ver el nombre del sitio"
    assert "studio.youtube.com" in d.evidence
    assert d.probe == str(reset["probe_id"].iloc[0])
    assert re.fullmatch(r"\d\d/\d\d/2026 \d\d:\d\d UTC", d.measured_at)
    appendix = html[html.index('<section id="appendix">') :]
    assert d.evidence in unescape(appendix)
    working = int((lab_now["verdict"] == "accessible").sum())
    assert f"Las {working} direcciones que funcionan no se detallan" in report.details_intro


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
