"""The block-page corpus as records: each page served in place of agency channel URLs.

In: ``tests/data/blockpages/corpus/*.yaml`` (pages written for netcheck, tagged
with kind, language and vendor class) and the samples of ``tests/data/blockpages/index.yaml``
(tuning split). Out: ``Served`` cases — one page, one targets-file entry (an agency channel on
Facebook, YouTube, X or Instagram, with no ``expect``), one transport (plain HTTP or HTTPS
through an intercepting proxy) — each with the ``Result`` record a probe would have written,
ready for ``classify_result``. Shared by tests/classify/test_corpus.py and bench/blockpages.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from netcheck.classify.fingerprints import vendor_id
from netcheck.models import CertFacts, HttpStep, ProbeInfo, Result, Steps, Target, TlsStep
from netcheck.pagetext import extract_title
from netcheck.targets.catalogue import load_targets_file
from tests.support.paths import TESTS

SAMPLES = TESTS / "data" / "blockpages"
CORPUS = SAMPLES / "corpus"
TRANSPORTS = ("plain-http", "intercepted-https")
PROXY = "http://198.18.0.3:3128"
INSPECTION_CA = "CN=Agency Inspection CA,O=Agency"

#: the agency's official channels as an agency writes them in a targets file: no `expect`
TARGETS_FILE = """\
targets:
  - {url: "https://www.facebook.com/MinisterioEjemplo", service: facebook,
     function: official_channel, official: true}
  - {url: "https://www.youtube.com/@MinisterioEjemplo", service: youtube,
     function: official_channel, official: true}
  - {url: "https://x.com/MinisterioEjemplo", service: x, function: official_channel,
     official: true}
  - {url: "https://www.instagram.com/ministerioejemplo/", service: instagram,
     function: official_channel, official: true}
"""
#: a site outside the catalogue: no brand to expect, so only words, shape and vendor decide
NO_CONTEXT_FILE = """\
targets:
  - {url: "https://tramites.ministerio.example/consulta", service: ministerio, function: view}
"""


@dataclass(frozen=True)
class Page:
    id: str
    split: str  # tune | seen | batchN (see BATCHES)
    kind: str  # block | lookalike | page
    lang: str
    klass: str  # vendor class (block), lookalike label, or "service"
    vendor: str | None
    status: int
    headers: tuple[tuple[str, str], ...]
    services: tuple[str, ...]  # empty = may stand in for any service
    html: str


@dataclass(frozen=True)
class Served:
    page: Page
    target: Target
    transport: str
    record: Result


def _page(raw: dict[str, Any], split: str) -> Page:
    return Page(
        id=str(raw["id"]),
        split=split,
        kind=str(raw["kind"]),
        lang=str(raw["lang"]),
        klass=str(raw["class"]),
        # the writer's name for the product, folded to netcheck's vendor id ("fortinet" and
        # "fortigate" are "fortiguard", "panos" is "paloalto")
        vendor=vendor_id(str(raw["vendor"])) if raw.get("vendor") else None,
        status=int(raw["status"]),
        headers=tuple((str(k), str(v)) for k, v in raw.get("headers", [])),
        services=tuple(raw.get("services", ())),
        html=str(raw["html"]),
    )


_SAMPLE_CLASS = {
    "squid": "proxy",
    "fortiguard": "ngfw",
    "paloalto": "ngfw",
    "sophos": "ngfw",
    "sonicwall": "ngfw",
    "checkpoint": "ngfw",
    "zscaler": "sse",
    "cisco-umbrella": "dns-filter",
}


def _samples() -> list[Page]:
    """index.yaml's samples, tagged like corpus pages (all in the tuning split)."""
    index = yaml.safe_load((SAMPLES / "index.yaml").read_text(encoding="utf-8"))["samples"]
    pages = []
    for n, raw in enumerate(index):
        expect = str(raw["expect"])
        kind, klass, vendor = "block", "generic", None
        if expect.startswith("lookalike:"):
            kind, klass = "lookalike", expect.split(":", 1)[1]
        elif expect == "page":
            kind, klass = "page", "service"
        elif expect != "generic":
            klass, vendor = _SAMPLE_CLASS.get(expect, "swg"), expect
        html = (SAMPLES / str(raw["file"])).read_text(encoding="utf-8")
        services: tuple[str, ...] = ()
        if klass in ("consent-wall",):
            services = ("youtube",)
        elif klass in ("login-wall", "content-unavailable"):
            services = ("facebook",)
        elif kind == "page":
            services = ("ministerio",)  # a news article: an ordinary page outside the catalogue
        pages.append(
            Page(
                id=f"sample-{n}-{raw['file']}",
                split="tune",
                kind=kind,
                lang=str(raw.get("lang", "en")),
                klass=klass,
                vendor=vendor,
                status=int(raw["status"]),
                headers=tuple((str(k), str(v)) for k, v in raw["headers"]),
                services=services,
                html=html,
            )
        )
    return pages


#: corpus files in the order they were written, and the split each counts in. ``tune``: what
#: the cues were tuned on; ``seen``: held-out batches whose misses were later looked at while
#: tuning; a batch named on its own (``batch4``...) is reported apart, with how it was used
BATCHES = (
    ("tune", "tune"),
    ("heldout", "seen"),
    ("heldout2", "seen"),
    ("heldout3", "batch3"),
    ("heldout4", "batch4"),
    ("heldout5", "batch5"),
    ("heldout6", "batch6"),
    ("heldout7", "batch7"),
    ("heldout8", "batch8"),
    ("heldout9", "batch9"),
    ("heldout10", "batch10"),
    ("heldout11", "batch11"),
    ("heldout12", "batch12"),
    ("heldout13", "batch13"),
    ("heldout14", "batch14"),
    ("heldout15", "batch15"),
    ("heldout16", "batch16"),
    ("heldout17", "batch17"),
    ("heldout18", "batch18"),
    ("heldout19", "batch19"),
    ("heldout20", "batch20"),
    ("heldout22", "batch22"),
    ("heldout23", "batch23"),
    ("heldout24", "batch24"),
    ("heldout25", "batch25"),
    ("heldout21", "batch21"),
    ("heldout26", "batch26"),
    ("heldout27", "batch27"),
    ("heldout28", "batch28"),
    ("heldout29", "batch29"),
    ("heldout30", "batch30"),
    ("heldout31", "batch31"),
    ("heldout32", "batch32"),
    ("heldout33", "batch33"),
    ("heldout34", "batch34"),
    ("heldout35", "batch35"),
    ("heldout36", "batch36"),
    ("heldout37", "batch37"),
    ("heldout38", "batch38"),
)
#: how each split was used, for the bench's headings
SPLIT_NOTES = {
    "tune": "the pages the cues were tuned on",
    "seen": "batches 1-2: written as held-out, their misses then looked at while tuning",
    "batch3": "written after the first pass's tuning, measured once, then its misses looked at",
    "batch4": "written before the second pass changed any rule, measured once as written "
    "(recall 312/312, false alarms 158/220; without brand 24/78 and 28/56), then looked at",
    "batch5": "written after the second pass's tuning, before being run; measured once as written",
    "batch6": "written before the third pass changed any rule, measured once as written "
    "(recall 144/288, false alarms 0/198, 18/198 inconclusive; without brand 28/72 and 2/48), "
    "then looked at",
    "batch7": "written after the third pass's tuning, before being run; measured once as written "
    "(recall 282/290, false alarms 42/206, 8/206 inconclusive; without brand 36/72 and 0/50), "
    "then looked at",
    "batch8": "written after the third pass's last tuning (on batch 7), before being run; "
    "measured once as written (recall 208/266, false alarms 104/204, 8/204 inconclusive; "
    "without brand 18/66 and 0/50), then looked at",
    "batch9": "written after the language condition, before being run; measured once as written "
    "(recall 224/240, false alarms 152/216, 8/216 inconclusive; without brand 6/60 and 0/54), "
    "then looked at",
    "batch10": "written after the access condition (the third pass's last change), before being "
    "run; measured once as written (recall 208/248, false alarms 0/210, 72/210 inconclusive; "
    "without brand 26/62 and 0/52), not tuned on",
    "batch11": "written blind by someone who never saw the rules or the other batches, modelled "
    "on real products' and offices' pages; measured before any rule was tuned on it (recall "
    "540/650, false alarms 16/288; without brand 126/162 and 4/60), again after the languages "
    "were added (616/650 and 16/288), then looked at",
    "batch12": "written blind like batch 11, after the fourth pass's tuning on batch 11; measured "
    "once as written (recall 366/366, false alarms 26/332; without brand 56/64 and 6/72), then "
    "looked at",
    "batch13": "written blind like batches 11 and 12, mostly lookalikes, after the fourth pass's "
    "tuning on batch 12 and pages written by hand; measured once as written (recall 608/624, "
    "false alarms 26/576, 16/576 inconclusive; without brand 142/156 and 4/128), then looked at",
    "batch14": "written blind like batches 11-13, many regions and products, after the fourth "
    "pass's tuning on batch 13; measured once as written (recall 674/696, false alarms 40/534, "
    "40/534 inconclusive; without brand 142/174 and 4/124), then looked at",
    "batch15": "written blind like batches 11-14, after the fourth pass's tuning on batch 14; "
    "measured once as written (recall 608/632, false alarms 112/546, 16/546 inconclusive; "
    "without brand 128/158 and 14/130), then looked at",
    "batch16": "written blind by another writer at the same time as batch 15, as a field team's "
    "year of pages in Latin America, Europe, Africa and Asia; measured once as written (recall "
    "656/680, false alarms 48/554, 112/554 inconclusive; without brand 160/170 and 6/128), then "
    "looked at",
    "batch17": "written blind as testers would build their own held-out set, after the fourth "
    "pass's tuning on batches 15 and 16; measured once as written (recall 648/680, false "
    "alarms 40/496, 56/496 inconclusive; without brand 154/170 and 2/104), then looked at",
    "batch18": "written blind, the services' own pages and their fronts' refusals but no ordinary "
    "pages of other sites, after the fourth pass's last tuning (on batch 17); measured once as "
    "written (recall 584/592, false alarms 10/332, none inconclusive; without brand 132/148 and "
    "2/60), then looked at",
    "batch19": "written blind as products' real pages with their markup, and the services' own "
    "pages, after the fifth pass's tuning on batch 18; measured once as written (recall "
    "400/400, false alarms 0/214, none inconclusive; without brand 98/100 and 0/44)",
    "batch20": "written blind as a field team's pages from many countries' networks and 31 "
    "languages, after the fifth pass's tuning on batch 18; measured once as written (recall "
    "352/376, false alarms 8/296, 72/296 inconclusive; without brand 84/94 and 0/68), then looked "
    "at",
    "batch22": "written blind, mostly lookalikes as full-size pages (the services', CDNs', "
    "intranets' and captive portals'), after the fifth pass's tuning on batches 18, 20 and 23; "
    "measured once as written (recall 288/288, false alarms 50/332, 22/332 inconclusive; without "
    "brand 68/72 and 4/72), then looked at",
    "batch23": "written blind as public administrations' pages in Latin America, Iberia, Africa, "
    "the Middle East, Asia and Eastern Europe and the filters they run, after the fifth pass's "
    "tuning on batches 18 and 20; measured once as written (recall 440/440, false alarms 16/328, "
    "32/328 inconclusive; without brand 96/110 and 2/76), then looked at",
    "batch24": "written blind as a skeptical tester's set (rare products, browsers' and tenants' "
    "policy pages, the services' own restrictions, browser error pages, captive portals, "
    "articles about filtering), after the fifth pass's tuning on batches 18, 20, 22 and 23; "
    "measured once as written (recall 360/368, false alarms 86/328, 74/328 inconclusive; "
    "without brand 88/92 and 12/76), then looked at",
    "batch25": "written blind in 50 languages, one block page and one lookalike in most, after "
    "the fifth pass's tuning on batches 18, 20, 22, 23 and 24 and the 24 new languages; "
    "measured once as written (recall 312/384, false alarms 72/338, 102/338 inconclusive; "
    "without brand 72/96 and 4/80), then looked at",
    "batch21": "written blind as an independent tester's held-out set, kept unread through the "
    "fifth pass and measured once at its end (recall 376/376, false alarms 26/286, 8/286 "
    "inconclusive; without brand 82/94 and 4/64)",
    "batch26": "written blind as a final acceptance set from what testers see in real networks, "
    "kept unread through the fifth pass and measured once at its end (recall 450/456, false "
    "alarms 40/382, 24/382 inconclusive; without brand 106/114 and 0/88), then looked at",
    "batch27": "written blind as a final acceptance set from real networks, after the fifth "
    "pass's last tuning (on batches 21 and 26); measured once (recall 416/416, false alarms "
    "2/314, 32/314 inconclusive; without brand 98/104 and 0/68)",
    "batch28": "written blind as an audit team's collection from government networks, after the "
    "fifth pass's last tuning (on batches 21 and 26); measured once (recall 432/432, false "
    "alarms 34/286, 18/286 inconclusive; without brand 106/108 and 8/56), then looked at",
    "batch29": "written blind as a final acceptance set from real networks, after the fifth "
    "pass's last tuning (on batches 27 and 28); measured once (recall 440/440, false alarms "
    "8/380, 48/380 inconclusive; without brand 106/110 and 2/88), then looked at",
    "batch30": "written blind as a communications office's final check (what staff saw in place "
    "of the agency's channels), after the fifth pass's last tuning; measured once (recall "
    "360/360, false alarms 20/306, 46/306 inconclusive; without brand 90/90 and 2/62), then "
    "looked at",
    "batch31": "written blind as a final acceptance set from real networks, kept unread until "
    "the fifth pass's last change (tuning on batches 29 and 30); measured once (recall 424/424, "
    "false alarms 0/350, 64/350 inconclusive; without brand 102/106 and 0/80), then looked at",
    "batch32": "written blind as an auditor's fleet-wide collection, kept unread until the fifth "
    "pass's last change; measured once (recall 432/448, false alarms 26/310, 74/310 "
    "inconclusive; without brand 100/112 and 2/66), then looked at",
    "batch33": "written blind as the last acceptance set from real networks, kept unread until "
    "the fifth pass's last change (tuning on batch 32); measured once (recall 448/448, false "
    "alarms 34/376, 26/376 inconclusive; without brand 106/112 and 4/84), then looked at",
    "batch34": "written blind as an auditor's fleet-wide collection in 37 languages, kept unread "
    "until the fifth pass's last change; measured once (recall 424/432, false alarms 12/298, "
    "78/298 inconclusive; without brand 98/108 and 2/62), then looked at",
    "batch35": "written blind as an acceptance set from real networks, kept unread until the "
    "fifth pass had ended (its last change: tuning on batches 33 and 34); measured once (recall "
    "432/432, false alarms 32/328, 16/328 inconclusive; without brand 108/108 and 4/76), then "
    "looked at",
    "batch36": "written blind as a communications office's and its IT's collection, kept unread "
    "until the fifth pass had ended; measured once (recall 416/416, false alarms 2/320, 46/320 "
    "inconclusive; without brand 100/104 and 0/68)",
    "batch37": "written blind as an acceptance set from real networks after the fifth pass's "
    "last change (tuning on batch 35); measured once (recall 400/408, false alarms 0/318, "
    "40/318 inconclusive; without brand 96/102 and 0/72)",
    "batch38": "written blind as an auditor's fleet-wide collection in 34 languages, same time; "
    "measured once (recall 432/432, false alarms 0/294, 66/294 inconclusive; without brand "
    "102/108 and 0/60)",
}


def splits() -> tuple[str, ...]:
    """Split names in the order the corpus was written."""
    return tuple(dict.fromkeys(split for _, split in BATCHES))


def load_pages() -> list[Page]:
    pages = _samples()
    for name, split in BATCHES:
        data = yaml.safe_load((CORPUS / f"{name}.yaml").read_text(encoding="utf-8"))
        pages.extend(_page(raw, split) for raw in data["pages"])
    return pages


def agency_targets(text: str = TARGETS_FILE) -> list[Target]:
    """A targets file read by the real loader (so no `expect` is filled in by hand)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agency.yaml"
        path.write_text(text, encoding="utf-8")
        return load_targets_file(str(path))


def _steps(page: Page, url: str, host: str, transport: str) -> Steps:
    body = page.html
    http = HttpStep(
        url=url if transport == "intercepted-https" else "http://" + url.split("://", 1)[1],
        proxy=PROXY if transport == "intercepted-https" else None,
        ip=None if transport == "intercepted-https" else "198.18.0.77",
        status=page.status,
        headers=list(page.headers),
        # as the probe records it (measure/http.py): the Location header of a redirect
        location=next((v for k, v in page.headers if k.casefold() == "location"), None),
        body_length=len(body.encode("utf-8")),
        body=body,
        title=extract_title(body),
    )
    if transport == "plain-http":
        return Steps(http=[http])
    leaf = CertFacts(subject=f"CN={host}", issuer=INSPECTION_CA, sans=[host], sha256="ab" * 32)
    tls = TlsStep(
        port=443,
        server_name=host,
        proxy=PROXY,
        tls_version="TLSv1.3",
        chain=[leaf],
        trusted_public=False,
        trusted_local=True,
        hostname_matches=True,
    )
    return Steps(tls=[tls], http=[http])


def serve(page: Page, target: Target, transport: str) -> Served:
    url = target.url
    if transport == "plain-http":
        target = replace(target, url="http://" + url.split("://", 1)[1])
    host = url.split("://", 1)[1].split("/", 1)[0]
    record = Result(
        id=f"{page.id}-{target.service}-{transport}",
        probe=ProbeInfo(
            id="corpus", software_version="0", started_at="2026-12-01T00:00:00Z", proxy=None
        ),
        target=target,
        measured_at="2026-12-01T00:00:01Z",
        verdict="inconclusive",
        evidence="not classified yet",
        steps=_steps(page, url, host, transport),
    )
    return Served(page, target, transport, record)


def cases(pages: list[Page] | None = None, *, context: bool = True) -> Iterator[Served]:
    """Every page in place of every channel it may stand in for, over both transports; with
    ``context=False``, in place of a page outside the catalogue instead (pages of a given
    service are then left out)."""
    targets = agency_targets(TARGETS_FILE if context else NO_CONTEXT_FILE)
    for page in pages if pages is not None else load_pages():
        for target in targets:
            if page.services and target.service not in page.services:
                continue
            if not context and page.kind == "page" and not page.services:
                continue
            for transport in TRANSPORTS:
                yield serve(page, target, transport)
