"""The command line, as users' scripts call it: a real subprocess against real local servers.

Checks the contract of issue 2: flags, JSON Lines output, exit codes (0/1/2), one clear line on
bad input with nothing written or overwritten, offline re-classification, the committed schema.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from netcheck.schema import SCHEMA_PATH, schema_text
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer
from tests.support.servers.tls import TlsLab, closed_port

HOST = "www.example.test"
PAGE = b"<html><head><title>Agency Channel</title></head><body>Official channel</body></html>"


REPO = Path(__file__).resolve().parents[2]


def netcheck(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


@dataclass
class Site:
    lab: TlsLab
    dns: DnsServer
    good_url: str
    reset_url: str
    targets: Path

    def flags(self) -> list[str]:
        return [
            "--targets", str(self.targets),
            "--service", "agency",
            "--resolver", self.dns.spec,
            "--ca-bundle", self.lab.public_pem,
            "--local-ca", self.lab.corporate_pem,
            "--allow-net", "127.0.0.0/8",
            "--proxy", "none",
            "--timeout", "1",
            "--network", "test-lan",
        ]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A DNS server, an HTTPS agency page and a closed port, served from a background loop."""
    folder = tmp_path_factory.mktemp("site")
    lab = TlsLab(folder)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        async with (
            hs.HttpServer(default=hs.page(PAGE), ssl_context=lab.good_context(HOST)) as srv,
            closed_port() as (_, dead),
            DnsServer({HOST: ["127.0.0.1"], "gone.example.test": ["127.0.0.1"]}) as dns,
        ):
            box.update(srv=srv, dead=dead, dns=dns)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    srv = box["srv"]
    assert isinstance(srv, hs.HttpServer)
    good = srv.url("/")
    reset = f"https://gone.example.test:{box['dead']}/"
    targets = folder / "targets.yaml"
    targets.write_text(
        "targets:\n"
        f"  - url: {good}\n    service: agency\n    function: official_channel\n"
        "    official: true\n"
        "    expect: {title_contains: [Agency], cert_names: [www.example.test]}\n"
        f"  - url: {reset}\n    service: agency\n    function: view\n",
        encoding="utf-8",
    )
    dns = box["dns"]
    assert isinstance(dns, DnsServer)
    yield Site(lab, dns, good, reset, targets)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_run_writes_json_lines_and_exits_1_when_something_is_blocked(
    site: Site, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    proc = netcheck("run", *site.flags(), "--out", str(out), "--json")
    assert proc.returncode == 1, proc.stderr
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    saved = [json.loads(line) for line in out.read_text().splitlines()]
    assert printed == saved
    assert len(saved) == 2
    by_url = {r["target"]["url"]: r for r in saved}
    good, dead = by_url[site.good_url], by_url[site.reset_url]
    assert good["verdict"] == "accessible"
    assert good["target"]["official"] is True
    assert (dead["verdict"], dead["technique"]) == ("blocked", "tcp-reset")
    assert good["probe"]["network"] == "test-lan"
    assert good["probe"]["allow_nets"] == ["127.0.0.0/8"]
    for record in saved:
        assert set(record["steps"]) >= {"dns", "tcp", "tls", "http"}
        jsonschema.validate(record, json.loads(SCHEMA_PATH.read_text()))


def test_run_exits_0_when_all_accessible_and_appends(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"kept": "an earlier line"}\n')
    proc = netcheck("run", *site.flags(), "--function", "official_channel", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == '{"kept": "an earlier line"}'
    assert len(lines) == 2
    assert "accessible" in proc.stdout  # the table for people goes to stdout without --json


def test_classify_offline_gives_the_same_verdicts(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    netcheck("run", *site.flags(), "--out", str(out))
    proc = netcheck("classify", str(out), "--json")
    assert proc.returncode == 1, proc.stderr
    again = [json.loads(line) for line in proc.stdout.splitlines()]
    before = [json.loads(line) for line in out.read_text().splitlines()]
    key = ("verdict", "technique", "vendor", "intercepted", "evidence")
    assert [[r[k] for k in key] for r in again] == [[r[k] for k in key] for r in before]
    assert "classified differently" not in proc.stderr


def test_default_out_path_is_under_results(site: Site, tmp_path: Path) -> None:
    proc = netcheck("run", *site.flags(), "--function", "official_channel", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = list((tmp_path / "results").glob("netcheck-*.jsonl"))
    assert len(files) == 1
    assert files[0].read_text().count("\n") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--resolver", "not-an-ip"], "--resolver"),
        (["--allow-net", "10.0.0.0/33"], "--allow-net"),
        (["--ca-bundle", "/nonexistent/ca.pem"], "/nonexistent/ca.pem"),
        (["--local-ca", "/nonexistent/corp.pem"], "/nonexistent/corp.pem"),
        (["--service", "nosuchservice"], "--service"),
        (["--function", "nosuchfunction"], "--function"),
        (["--fingerprints", "/nonexistent/fp.csv"], "/nonexistent/fp.csv"),
        (["--proxy", "auto"], "--pac"),
        (["--proxy", "socks5://127.0.0.1:1"], "--proxy"),
        (["--targets", "/nonexistent/targets.yaml"], "/nonexistent/targets.yaml"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n")
    proc = netcheck("run", "--proxy", "none", *args, "--out", str(out))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert out.read_text() == "precious\n"


def test_bad_targets_file_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text(
        "targets:\n"
        "  - url: https://ok.example/\n    service: x\n    function: view\n"
        "  - service: y\n    function: view\n"
    )
    proc = netcheck("run", "--targets", str(bad), "--out", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2
    assert f"{bad}:5: targets[1].url: missing" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_classify_bad_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "r.jsonl"
    bad.write_text('{"schema_version": "1.0"}\n')
    proc = netcheck("classify", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_targets_list_json_has_the_catalogue() -> None:
    proc = netcheck("targets", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    targets = json.loads(proc.stdout)
    pairs = {(t["service"], t["function"]) for t in targets}
    for service in ("facebook", "youtube", "x"):
        for function in ("view", "official_channel", "login", "admin", "media", "api"):
            assert (service, function) in pairs
    assert all(t["expect"]["cert_names"] for t in targets)


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "the result schema changed: run `python -m netcheck.schema` and commit it"
    )


def test_usage_errors_exit_2() -> None:
    proc = netcheck("run", "--timeout", "not-a-number")
    assert proc.returncode == 2


AGENCY_POLICY = """\
organisation: Test Agency
version: "1"
date: 2026-11-01
default: block
networks:
  - id: lan
    name: test LAN
    labels: [test-lan]
rules:
  - id: agency-site
    description: staff must reach the agency's own site
    match: {hosts: [".example.test"]}
    action: allow
"""


def test_run_with_policy_reports_self_blocking(site: Site, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(AGENCY_POLICY)
    out = tmp_path / "r.jsonl"
    proc = netcheck("run", *site.flags(), "--policy", str(policy), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "1 compliant, 1 self-blocking" in proc.stdout
    check = netcheck("check", "--policy", str(policy), str(out), "--json")
    assert check.returncode == 1, check.stderr
    findings = [json.loads(line) for line in check.stdout.splitlines()]
    assert {(f["rule"], f["rule_file"], f["rule_line"]) for f in findings} == {
        ("agency-site", str(policy), 10)
    }
    kinds = {
        json.loads(line)["target"]["url"]: json.loads(line)["kind"]
        for line in check.stdout.splitlines()
    }
    assert kinds == {site.good_url: "compliant", site.reset_url: "self-blocking"}


def test_run_with_a_bad_policy_stops_before_measuring(site: Site, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(AGENCY_POLICY.replace("action: allow", "action: maybe"))
    out = tmp_path / "r.jsonl"
    proc = netcheck("run", *site.flags(), "--policy", str(policy), "--out", str(out))
    assert proc.returncode == 2
    assert f"{policy}:" in proc.stderr
    assert "action" in proc.stderr
    assert not out.exists()


def test_no_catalogue_measures_only_the_targets_files(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    flags = [f for f in site.flags() if f not in ("--service", "agency")]  # no narrowing at all
    proc = netcheck("run", *flags, "--no-catalogue", "--out", str(out), "--json")
    assert proc.returncode == 1, proc.stderr
    urls = {json.loads(line)["target"]["url"] for line in out.read_text().splitlines()}
    assert urls == {site.good_url, site.reset_url}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--no-catalogue"], "--no-catalogue: needs --targets"),
        (["--group", "comms"], "--group: given without --policy"),
    ],
)
def test_run_refuses_flags_that_cannot_apply(args: list[str], needle: str, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    proc = netcheck("run", "--proxy", "none", *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_group_is_refused_like_an_unknown_network(site: Site, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(AGENCY_POLICY + "groups:\n  - id: comms\n")
    out = tmp_path / "r.jsonl"
    proc = netcheck(
        "run", *site.flags(), "--policy", str(policy), "--group", "nosuch", "--out", str(out)
    )
    assert proc.returncode == 2
    assert "--group: group 'nosuch' is not in the policy" in proc.stderr
    assert "known: comms" in proc.stderr
    assert not out.exists()
    ok = netcheck(
        "run", *site.flags(), "--policy", str(policy), "--group", "comms", "--out", str(out)
    )
    assert ok.returncode == 1, ok.stderr  # the reset target is self-blocking for that group too
    check = netcheck("check", "--policy", str(policy), str(out), "--group", "nosuch")
    assert check.returncode == 2
    assert "--group: group 'nosuch'" in check.stderr
    explain = netcheck("policy", "explain", str(policy), site.good_url, "--group", "nosuch")
    assert explain.returncode == 2
    assert "--group: group 'nosuch'" in explain.stderr


LAB_POLICY = str(REPO / "policies" / "lab.yaml")
LAB_RESULTS = str(REPO / "sample_results" / "lab" / "admin-blocked.jsonl")


def test_check_formats_table_json_csv() -> None:
    as_json = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--format", "json")
    old_json = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--json")
    assert as_json.returncode == old_json.returncode == 1
    assert as_json.stdout == old_json.stdout
    findings = [json.loads(line) for line in as_json.stdout.splitlines()]
    as_csv = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--format", "csv")
    assert as_csv.returncode == 1, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["kind"], r["url"], r["rule"]) for r in rows] == [
        (f["kind"], f["target"]["url"], f["rule"]) for f in findings
    ]
    assert {r["official_channel"] for r in rows} <= {"true", "false"}
    bad = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--format", "xml")
    assert bad.returncode == 2
    assert "--format" in bad.stderr
    clash = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--json", "--format", "csv")
    assert clash.returncode == 2
    assert "--format" in clash.stderr


def test_check_table_reads_at_80_columns() -> None:
    env_cols = {"COLUMNS": "80"}
    proc = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, env=env_cols)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    findings = netcheck("check", "--policy", LAB_POLICY, LAB_RESULTS, "--json").stdout
    for finding in map(json.loads, findings.splitlines()):
        url = finding["target"]["url"]
        if len(url) < 50:  # a short URL is never cut in two
            assert any(url in line for line in lines), url
    assert "self-blocking" in proc.stdout
    assert "findings:" in lines[-1]


def test_explain_says_the_official_channel_in_words() -> None:
    policy = str(REPO / "policies" / "ministerio-ejemplo.yaml")
    proc = netcheck("policy", "explain", policy, "https://www.youtube.com/@MinisterioLab")
    assert proc.returncode == 0, proc.stderr
    assert "{" not in proc.stdout
    assert "'" not in proc.stdout
    assert "official channel youtube @MinisterioLab (https://www.youtube.com/@MinisterioLab)" in (
        proc.stdout
    )
    assert f"declared at {policy}:" in proc.stdout
