"""Block-page recognition on HTML samples, the OONI CSV loader, and the address helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from netcheck.classify.blockpage import (
    extract_title,
    generic_cues,
    load_fingerprints,
    lookalike,
    match_dns,
    match_http,
    vendor_id,
)
from netcheck.errors import InputError
from netcheck.netaddr import in_nets, is_bogon, parse_cidr
from tests.support.paths import TESTS

SAMPLES = TESTS / "data" / "blockpages"
INDEX: list[dict[str, Any]] = yaml.safe_load((SAMPLES / "index.yaml").read_text())["samples"]

OONI_HEADER = (
    "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
    "expected_countries,source,exp_url,notes"
)


def _sample(entry: dict[str, Any]) -> tuple[int, list[tuple[str, str]], str, str | None]:
    body = (SAMPLES / entry["file"]).read_text(encoding="utf-8")
    headers = [(str(k), str(v)) for k, v in entry["headers"]]
    return int(entry["status"]), headers, body, extract_title(body)


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['file']}-{'hdr' if entry['headers'] else 'nohdr'}"


@pytest.mark.parametrize("entry", INDEX, ids=_id)
def test_sample(entry: dict[str, Any]) -> None:
    status, headers, body, title = _sample(entry)
    fps = load_fingerprints()
    found = match_http(fps, headers=headers, body=body, title=title)
    block = [m.vendor for m in found if m.kind == "block"]
    cues = generic_cues(body, title)
    look = lookalike(status, headers, body, title)
    expect: str = entry["expect"]
    if expect.startswith("lookalike:"):
        assert look == expect.split(":", 1)[1]
        assert block == []
    elif expect == "generic":
        assert block == []
        assert look is None
        assert cues.strong, cues
        assert cues.language == entry["lang"]
    elif expect == "page":
        assert block == [], block
        assert look is None
        assert not cues.strong, cues
    else:
        assert block, found
        assert block[0] == expect, found
        assert set(block) == {expect}, "a sample must not match another vendor"
        assert look is None
        if "lang" in entry:
            assert cues.language == entry["lang"]


def test_every_block_sample_has_strong_cues_or_a_vendor() -> None:
    """Generic cues alone catch most vendor pages too: the fallback when no fingerprint exists."""
    vendor_pages = [e for e in INDEX if ":" not in e["expect"] and e["expect"] not in ("page",)]
    strong = [e["file"] for e in vendor_pages if generic_cues(*_sample(e)[2:]).strong]
    assert len(strong) == len(vendor_pages), set(e["file"] for e in vendor_pages) - set(strong)


def test_one_weak_word_is_not_enough() -> None:
    assert not generic_cues("<p>The motion was blocked.</p>").strong
    assert not generic_cues("blocked blocked blocked denied firewall policy").strong
    assert generic_cues("<h1>Acceso denegado</h1><p>sitio bloqueado</p>").strong


def test_cues_fold_accents_entities_and_markup() -> None:
    score = generic_cues("<b>P&aacute;gina</b> <i>bloqueada</i> por la pol\u00edtica")
    assert score.strong
    assert score.language == "es"
    assert "pagina bloqueada" in score.phrases
    # phrases inside scripts do not count
    assert not generic_cues("<script>var t='this site has been blocked';</script>").strong


def test_header_fingerprints_and_identity_kind() -> None:
    fps = load_fingerprints()
    via = match_http(fps, headers=[("Via", "1.1 proxy.lab (squid/5.7)")])
    assert [m.kind for m in via] == ["identity"], "Via alone does not prove a block"
    denied = match_http(fps, headers=[("x-squid-error", "ERR_ACCESS_DENIED 0")])
    assert denied[0].kind == "block"
    assert denied[0].vendor == "squid"
    assert denied[0].scope == "header:X-Squid-Error"
    assert "ERR_ACCESS_DENIED" in denied[0].where


def test_location_fingerprints() -> None:
    fps = load_fingerprints()
    cases = {
        "http://10.0.0.1:6080/php/urlblock.php?args=AAA": "paloalto",
        "http://10.0.0.1:8008/XX/YY/ZZ/CI/MGPGHGPGPFGHCDPFGGOGFGEH": "fortiguard",
        "https://fw.agency:8010/fgtauth?0102": "fortiguard",
        "http://sg.agency/notify-Notify?cfru=aHR0cDovL3guY29t": "bluecoat",
        "http://ns.agency/webadmin/deny/index.php?dpid=2": "netsweeper",
        "http://ws.agency:15871/cgi-bin/blockpage.cgi?ws-session=1": "forcepoint",
    }
    for location, vendor in cases.items():
        found = match_http(fps, location=location)
        assert found, location
        assert (found[0].vendor, found[0].kind) == (vendor, "block"), location
    assert match_http(fps, location="https://www.youtube.com/watch?v=1") == []


def test_dns_fingerprints() -> None:
    fps = load_fingerprints()
    for ip in ("146.112.61.104", "146.112.61.110", "::ffff:146.112.61.107"):
        m = match_dns(fps, ip)
        assert m is not None, ip
        assert (m.vendor, m.kind) == ("cisco-umbrella", "block"), ip
    assert match_dns(fps, "146.112.61.111") is None
    assert match_dns(fps, "146.112.61.103") is None
    pf = match_dns(fps, "10.10.10.1")
    assert pf is not None
    assert pf.vendor == "pfsense"
    assert pf.kind == "identity"
    assert match_dns(fps, "not-an-ip") is None


def test_lookalike_cloudflare_server_only_on_errors() -> None:
    assert lookalike(200, [("Server", "cloudflare")], "<p>hello</p>", "Home") is None
    assert (
        lookalike(403, [("Server", "cloudflare")], "<p>hello</p>", "Home") == "cloudflare-challenge"
    )


# --- OONI CSV -----------------------------------------------------------------------------------


def test_ooni_http_and_dns_csv(tmp_path: Path) -> None:
    http = tmp_path / "fingerprints_http.csv"
    http.write_text(
        OONI_HEADER + "\n"
        "prs_acme_filter,prod,,body,contains,ACME NetGuard blocked this,true,,,,\n"
        "nat_fortinet_1,vbw,fortigate,header.location,prefix,http://fw.example:8008/,true,,,,\n"
        'vbw_squid,vbw,,header.server,regexp,"^squid/[0-9]",true,,,,"server header"\n'
        "fp_cloudflare,fp,,body,contains,cf-ray,false,,,,known false positive\n",
        encoding="utf-8",
    )
    dns = tmp_path / "fingerprints_dns.csv"
    dns.write_text(OONI_HEADER + "\nnat_example_sinkhole,nat,,dns,full,203.0.113.66,true,,,,\n")
    fps = load_fingerprints([str(http), str(dns)])
    body = match_http(fps, body="<p>ACME NetGuard blocked this</p>")
    assert body[0].vendor == "acme-filter"
    assert body[0].fingerprint == "ooni-prs_acme_filter"
    loc = match_http(fps, location="http://fw.example:8008/block")
    assert loc[0].vendor == "fortiguard"
    server = match_http(fps, headers=[("Server", "squid/6.1")])
    assert server[0].vendor == "squid"
    assert server[0].kind == "block"
    assert match_http(fps, body="cf-ray: 1234") == [], "fp rows are false positives, not loaded"
    hit = match_dns(fps, "203.0.113.66")
    assert hit is not None
    assert hit.vendor == "example-sinkhole"
    # the shipped set is still there
    assert match_dns(fps, "146.112.61.105") is not None


@pytest.mark.parametrize(
    ("rows", "line", "field"),
    [
        ("x,prod,,body,globby,abc,true,,,,\n", 2, "pattern_type"),
        (
            "ok,prod,,body,contains,abc,true,,,,\nx,prod,,bodyy,contains,abc,true,,,,\n",
            3,
            "location_found",
        ),
        ("x,prod,,body,regexp,(unclosed,true,,,,\n", 2, "pattern"),
        ("x,prod,,body,contains\n", 2, "pattern"),
        (",prod,,body,contains,abc,true,,,,\n", 2, "name"),
        ("x,prod,,body,contains,,true,,,,\n", 2, "pattern"),
    ],
)
def test_ooni_csv_malformed(tmp_path: Path, rows: str, line: int, field: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(OONI_HEADER + "\n" + rows, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_fingerprints([str(bad)])
    assert (err.value.file, err.value.line, err.value.field) == (str(bad), line, field)
    assert str(err.value).startswith(f"{bad}:{line}: {field}: ")


def test_ooni_csv_missing_column_and_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "hdr.csv"
    bad.write_text("name,scope,location_found,pattern\nx,prod,body,abc\n")
    with pytest.raises(InputError) as err:
        load_fingerprints([str(bad)])
    assert err.value.line == 1
    assert err.value.field == "pattern_type"
    with pytest.raises(InputError) as err:
        load_fingerprints([str(tmp_path / "missing.csv")])
    assert err.value.file == str(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError):
        load_fingerprints([str(empty)])


def test_yaml_extra_fingerprints(tmp_path: Path) -> None:
    extra = tmp_path / "site.yaml"
    extra.write_text(
        "fingerprints:\n"
        "  - {id: agency-gw, vendor: agency-gw, scope: title, match: full, pattern: Bloqueo SGI}\n"
    )
    fps = load_fingerprints([str(extra)])
    assert match_http(fps, title="bloqueo sgi")[0].vendor == "agency-gw"
    extra.write_text(
        "fingerprints:\n  - {id: x, vendor: x, scope: body, match: nope, pattern: a}\n"
    )
    with pytest.raises(InputError) as err:
        load_fingerprints([str(extra)])
    assert err.value.field == "match"


def test_vendor_id_aliases() -> None:
    assert vendor_id("prs_fortinet_2") == "fortiguard"
    assert vendor_id("Palo Alto") == "paloalto"
    assert vendor_id("vbw_websense") == "forcepoint"
    assert vendor_id("nat_McAfee_Web_Gateway") == "skyhigh"
    assert vendor_id("isp_Some ISP") == "some-isp"


def test_default_set_is_cached_and_ids_unique() -> None:
    fps = load_fingerprints()
    assert fps is load_fingerprints()
    ids = [f.id for f in (*fps.http, *fps.dns)]
    assert len(ids) == len(set(ids))
    assert all(f.vendor == f.vendor.lower() and " " not in f.vendor for f in fps.http)


# --- netaddr ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "0.0.0.0",
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.1.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "198.19.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_bogons(ip: str) -> None:
    assert is_bogon(ip)


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "172.32.0.1", "157.240.1.35", "198.20.0.1", "2a03:2880::1", "::ffff:8.8.8.8"]
)
def test_not_bogons(ip: str) -> None:
    assert not is_bogon(ip)
    assert not is_bogon("www.example.com")


def test_allow_nets() -> None:
    assert in_nets("198.18.0.10", ["198.18.0.0/15"])
    assert in_nets("198.19.1.1", [parse_cidr("198.18.0.1/15")])
    assert not in_nets("10.0.0.1", ["198.18.0.0/15"])
    assert in_nets("fd00::5", ["fd00::/8"])
    assert not in_nets("fd00::5", ["10.0.0.0/8"])
    assert in_nets("10.9.9.9", ["10.9.9.9"])
    for bad in ("", "10.0.0.0/33", "lab", "1.2.3"):
        with pytest.raises(InputError) as err:
            parse_cidr(bad)
        assert err.value.field == "--allow-net"
