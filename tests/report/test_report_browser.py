"""The comms report on pages from browser mode (issue 16): a page that opens but misbehaves says,
in Spanish and in English, what works and what does not; a page where only ads failed works.

Records are built as ``run --browser`` writes them: the page's own steps (the golden HTTPS fetch),
a ``browser`` section whose failed hosts carry netcheck's own steps for them (NXDOMAIN, a reset,
a reset at the TLS handshake), re-classified by ``classify_result`` (what ``netcheck classify``
does) and written to a JSON Lines file. The report then reads the file through the loader's
``browser_failed`` column, as it would read a fleet's results.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from netcheck.classify import classify_result
from netcheck.models import (
    BrowserEvidence,
    BrowserHost,
    BrowserRequest,
    DnsAnswer,
    DnsStep,
    ProbeInfo,
    Result,
    Steps,
    Target,
    TcpStep,
    TlsStep,
)
from netcheck.output import dump_line
from netcheck.report import comms
from netcheck.report.i18n import messages
from netcheck.report.ingest import write_dataset
from netcheck.report.load import load
from netcheck.report.make import load_table
from netcheck.report.summary import Card, Line
from tests.support.paths import ROOT

GOLDEN = ROOT / "tests" / "golden" / "accessible_https.json"
CHANNEL = "https://www.youtube.com/@MinisterioLab"
STUDIO = "https://studio.youtube.com/"
VIDEOS = (
    "https://rr3---sn-nclab01.googlevideo.com/videoplayback/lab01.wav",
    "https://rr5---sn-nclab02.googlevideo.com/videoplayback/lab02.wav",
)
THUMB = "https://i.ytimg.com/vi/lab01/hqdefault.jpg"
API = "https://youtubei.googleapis.com/youtubei/v1/creator/list"
SCRIPT = "https://s.ytimg.com/yts/jsbin/player-lab.js"
AD = "https://googleads.g.doubleclick.net/pagead/show_ads.js"
WHEN = "2026-11-28T10:00:00Z"
Reports = dict[str, tuple[comms.CommsReport, str, str]]


def _dns(host: str, rcode: str = "NOERROR") -> DnsStep:
    ok = rcode == "NOERROR"
    return DnsStep(
        hostname=host,
        engine="dnspython",
        resolver="198.18.0.1:53",
        query_type="A",
        rcode=rcode,
        answers=[DnsAnswer(type="A", value="198.18.0.10", ttl=300)] if ok else [],
        failure=None if ok else "dns_nxdomain_error",
    )


def nxdomain(host: str) -> Steps:
    return Steps(dns=[_dns(host, "NXDOMAIN")])


def tcp_reset(host: str) -> Steps:
    return Steps(
        dns=[_dns(host)], tcp=[TcpStep(ip="198.18.0.10", port=443, failure="connection_refused")]
    )


def sni_reset(host: str) -> Steps:
    return Steps(
        dns=[_dns(host)],
        tcp=[TcpStep(ip="198.18.0.10", port=443)],
        tls=[TlsStep(ip="198.18.0.10", port=443, server_name=host, failure="connection_reset")],
    )


def request(url: str, kind: str, error: str | None = None) -> BrowserRequest:
    return BrowserRequest.model_validate(
        {"url": url, "host": url.split("/")[2], "type": kind, "error": error, "status": None}
        | ({} if error else {"status": 200})
    )


def host(url: str, steps: Steps) -> BrowserHost:
    return BrowserHost(host=url.split("/")[2], url=url, steps=steps, verdict="accessible")


def record(
    network: str,
    url: str,
    function: str,
    requests: list[BrowserRequest],
    hosts: list[BrowserHost],
) -> Result:
    gold = json.loads(GOLDEN.read_text())
    target = replace(
        Target.from_json(gold["target"]), url=url, function=function, official=url == CHANNEL
    )
    browser = BrowserEvidence(
        browser="Chromium test",
        sandboxed=True,
        loaded=True,
        requests=[request(url, "document"), *requests],
        hosts=hosts,
    )
    result = Result(
        id=f"{network}-{function}",
        probe=ProbeInfo(
            id="probe-1",
            software_version="0",
            started_at=WHEN,
            network=network,
            allow_nets=list(gold["allow_nets"]),
        ),
        target=target,
        measured_at=WHEN,
        verdict="accessible",
        evidence="",
        steps=Steps.model_validate(gold["steps"]),
        browser=browser,
    )
    return classify_result(Result.model_validate_json(result.model_dump_json()))


def records() -> list[Result]:
    video_dns = record(
        "lab-browser-video-dns",
        CHANNEL,
        "official_channel",
        [
            request(THUMB, "image"),
            *(request(v, "media", "net::ERR_NAME_NOT_RESOLVED") for v in VIDEOS),
        ],
        [host(v, nxdomain(v.split("/")[2])) for v in VIDEOS],
    )
    script_reset = record(
        "lab-browser-script-reset",
        CHANNEL,
        "official_channel",
        [request(SCRIPT, "script", "net::ERR_CONNECTION_REFUSED"), request(THUMB, "image")],
        [host(SCRIPT, tcp_reset("s.ytimg.com"))],
    )
    ads_only = record(
        "lab-browser-ads-only",
        CHANNEL,
        "official_channel",
        [request(AD, "script", "net::ERR_NAME_NOT_RESOLVED"), request(VIDEOS[0], "media")],
        [host(AD, nxdomain("googleads.g.doubleclick.net"))],
    )
    studio_sni = record(
        "lab-browser-api-sni",
        STUDIO,
        "admin",
        [request(API, "fetch", "net::ERR_CONNECTION_RESET"), request(SCRIPT, "script")],
        [host(API, sni_reset("youtubei.googleapis.com"))],
    )
    return [video_dns, script_reset, ads_only, studio_sni]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = records()
    # the records are what the rules make of them: the report only words them
    assert [r.verdict for r in made] == ["degraded", "degraded", "accessible", "degraded"]
    assert [r.technique for r in made] == ["dns-nxdomain", "tcp-reset", None, "tls-reset"]
    path = tmp_path_factory.mktemp("browser") / "results.jsonl"
    path.write_text("".join(dump_line(r) + "\n" for r in made), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reports(results: Path) -> Reports:
    frame, policy = load_table([str(results)], None)
    out = {}
    for lang in ("es", "en"):
        report = comms.build(frame, policy, lang)
        out[lang] = (report, comms.render_html(report), comms.render_markdown(report))
    return out


def _line(card: Card, network: str) -> Line:
    return next(line for line in card.lines if network in line.networks)


def test_loader_keeps_what_the_page_missed_in_a_short_column(results: Path) -> None:
    frame = load([str(results)]).set_index("network")
    video = json.loads(str(frame.loc["lab-browser-video-dns", "browser_failed"]))
    assert video == [
        ["media", "rr3---sn-nclab01.googlevideo.com", "dns-nxdomain", None, "own"],
        ["media", "rr5---sn-nclab02.googlevideo.com", "dns-nxdomain", None, "own"],
    ]
    ads = json.loads(str(frame.loc["lab-browser-ads-only", "browser_failed"]))
    assert ads == [["script", "googleads.g.doubleclick.net", "dns-nxdomain", None, "extra"]]


def test_a_record_without_browser_has_no_browser_column_value(tmp_path: Path) -> None:
    plain = records()[0].model_copy(update={"browser": None, "verdict": "accessible"})
    path = tmp_path / "plain.jsonl"
    path.write_text(dump_line(plain) + "\n", encoding="utf-8")
    assert load([str(path)])["browser_failed"].isna().all()


DEGRADED_CHANNEL = {
    "es": (
        "funciona en parte",
        "Funciona en parte en la red «lab-browser-video-dns»: el canal abre, pero sus vídeos no "
        "se reproducen: el servidor de nombres no encuentra rr3---sn-nclab01.googlevideo.com y "
        "rr5---sn-nclab02.googlevideo.com.",
        "el canal abre, pero sus scripts no cargan: el cortafuegos corta las conexiones con "
        "s.ytimg.com.",
        "Pida a TI que busque en el servidor DNS de la red la regla que bloquea "
        "rr3---sn-nclab01.googlevideo.com y rr5---sn-nclab02.googlevideo.com, que la página "
        "necesita para funcionar del todo.",
    ),
    "en": (
        "works in part",
        "Works in part on the “lab-browser-video-dns” network: the channel opens, but its videos "
        "do not play: the name server does not find rr3---sn-nclab01.googlevideo.com and "
        "rr5---sn-nclab02.googlevideo.com.",
        "the channel opens, but its scripts do not load: the firewall cuts connections to "
        "s.ytimg.com.",
        "Ask IT to find the rule in the network's DNS server that blocks "
        "rr3---sn-nclab01.googlevideo.com and rr5---sn-nclab02.googlevideo.com, which the page "
        "needs to work fully.",
    ),
}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_degraded_channel_works_in_part_saying_what_works_and_what_not(
    reports: Reports, lang: str
) -> None:
    answer_text, sentence, scripts, ask = DEGRADED_CHANNEL[lang]
    report, html, md = reports[lang]
    [card] = report.channels
    line = _line(card, "lab-browser-video-dns")
    assert line.answer == "partial"
    assert line.answer_text == answer_text
    assert line.sentence == sentence  # not "loads slowly": a degraded page is not a throttled one
    assert _line(card, "lab-browser-script-reset").sentence.endswith(scripts)
    # what to ask IT is about the hosts the page needed, not the page's own host
    assert line.ask == [ask]
    assert line.sentence in html
    assert line.sentence in md


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "es",
            "Studio carga, pero sus llamadas a la API fallan: el cortafuegos corta la conexión "
            "cifrada con youtubei.googleapis.com al ver su nombre (filtro por SNI)",
        ),
        (
            "en",
            "Studio loads, but its API calls fail: the firewall cuts the encrypted connection to "
            "youtubei.googleapis.com when it sees the name (SNI filtering)",
        ),
    ],
)
def test_studio_api_calls_cut_by_sni_in_the_services_and_the_appendix(
    reports: Reports, lang: str, words: str
) -> None:
    report, _, md = reports[lang]
    title = messages(lang).text(
        "channel_heading", service="YouTube", channel=messages(lang).ability("admin")
    )
    admin = next(c for c in report.services if c.title == title)
    line = _line(admin, "lab-browser-api-sni")
    assert line.answer == "partial"
    assert words in line.sentence
    [detail] = [d for d in report.details if d.url == STUDIO]
    assert detail.answer == "partial"
    assert detail.how == words
    assert words in md


@pytest.mark.parametrize("lang", ["es", "en"])
def test_ads_only_page_works(reports: Reports, lang: str) -> None:
    report, _, _ = reports[lang]
    [card] = report.channels
    line = _line(card, "lab-browser-ads-only")
    assert line.answer == "yes"
    assert "doubleclick" not in line.sentence
    assert not line.ask
    assert not [d for d in report.details if d.network == "lab-browser-ads-only"]
    view = next(
        t
        for t in report.tallies
        if t.title == card.title.split(" — ")[0] + " — " + messages(lang).ability("view")
    )
    assert view.counts == {"yes": 1, "partial": 2, "no": 0, "unknown": 0}


def test_a_parquet_dataset_keeps_the_sentence(results: Path, tmp_path: Path) -> None:
    """``report --format parquet`` then a report from the dataset: the column travels."""
    out = write_dataset(load([str(results)]), tmp_path / "records")
    report = comms.build(load([str(out)]), None, "en")
    line = _line(report.channels[0], "lab-browser-video-dns")
    assert line.sentence == DEGRADED_CHANNEL["en"][1]
