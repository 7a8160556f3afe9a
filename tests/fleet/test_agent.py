"""The agent as a real process: enrollment, runs against a local site, offline then back,
uploads of existing files, status, and service definitions that parse."""

from __future__ import annotations

import asyncio
import json
import plistlib
import sqlite3
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.agent import install, osproxy
from tests.fleet.support import Collector, record
from tests.support.paths import ROOT
from tests.support.servers import http as hs
from tests.support.servers.dns import DnsServer

PAGE = "<html><head><title>Agency channel</title></head><body>news</body></html>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two plain-HTTP targets on 127.0.0.1 behind a local DNS server: the run flags."""
    folder = tmp_path_factory.mktemp("site")
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}
    stop = asyncio.Event()

    async def serve() -> None:
        async with (
            hs.HttpServer(default=hs.page(PAGE)) as srv,
            DnsServer(
                {"www.example.test": ["127.0.0.1"], "news.example.test": ["127.0.0.1"]}
            ) as dns,
        ):
            box.update(srv=srv, dns=dns)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    srv, dns = box["srv"], box["dns"]
    targets = folder / "targets.yaml"
    targets.write_text(
        "targets:\n"
        f"  - url: {srv.url('/')}\n    service: agency\n    function: official_channel\n"
        f"  - url: {srv.url('/', host='news.example.test')}\n    service: agency\n"
        "    function: view\n",
        encoding="utf-8",
    )
    yield [
        "--no-catalogue",
        "--targets",
        str(targets),
        "--resolver",
        dns.spec,
        "--timeout",
        "2",
    ]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", "agent", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def enrolled(tmp_path: Path, c: Collector, network: str) -> Path:
    state = tmp_path / "agent"
    done = agent("enroll", "--server", c.url, "--code", c.code(network), "--state", str(state))
    assert done.returncode == 0, done.stderr
    assert (state / "probe.key").stat().st_mode & 0o777 == 0o600
    return state


def test_offline_for_ten_runs_then_back_delivers_all_in_order_once(
    site: list[str], tmp_path: Path
) -> None:
    c = Collector(tmp_path / "data").start()
    state = enrolled(tmp_path, c, "hq")
    c.stop()  # the collector is down: the laptop is offline
    for _ in range(10):
        done = agent("run", "--state", str(state), "--once", *site)
        assert done.returncode == 0, done.stderr
    status = json.loads(agent("status", "--state", str(state), "--json").stdout)
    assert status["outbox_batches"] == 10
    assert status["last_error"]
    assert "cannot reach the collector" in status["last_error"]
    c.start()
    try:
        done = agent("run", "--state", str(state), "--once", *site)
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(c.data / "collector.sqlite3") as db:
            seqs = [r[0] for r in db.execute("SELECT seq FROM batches ORDER BY received_at, seq")]
            ids = [json.loads(b)["id"] for (b,) in db.execute("SELECT body FROM records")]
            networks = {n for (n,) in db.execute("SELECT network FROM records")}
        assert seqs == list(range(1, 12))  # in order, each once
        assert len(ids) == 22
        assert len(set(ids)) == 22
        assert networks == {"hq"}
        status = json.loads(agent("status", "--state", str(state), "--json").stdout)
        assert status["outbox_batches"] == 0
        assert status["last_error"] is None
        assert status["delivered_seq"] == 11
    finally:
        c.stop()


def test_upload_of_files_and_refusal_of_another_networks_records(tmp_path: Path) -> None:
    c = Collector(tmp_path / "data").start()
    try:
        state = enrolled(tmp_path, c, "branch")
        mine = tmp_path / "mine.jsonl"
        mine.write_text("".join(json.dumps(record("branch")) + "\n" for _ in range(5)))
        done = agent("upload", "--state", str(state), str(mine))
        assert done.returncode == 0, done.stderr
        theirs = tmp_path / "theirs.jsonl"
        theirs.write_text(json.dumps(record("hq")) + "\n")
        done = agent("upload", "--state", str(state), str(theirs))
        assert done.returncode == 2
        assert "theirs.jsonl" in done.stderr
        assert "'hq'" in done.stderr
        with sqlite3.connect(c.data / "collector.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 5
    finally:
        c.stop()


def test_service_definitions_parse() -> None:
    cmd = ["/usr/bin/netcheck"]
    unit = install.systemd(cmd, "/var/lib/netcheck-agent", 3600, 600)
    service = unit.files["netcheck-agent.service"]
    assert "DynamicUser=yes" in service
    assert "StateDirectory=netcheck-agent" in service
    assert "ExecStart=/usr/bin/netcheck agent run --state /var/lib/netcheck-agent --once" in service
    assert "RandomizedDelaySec=10min" in unit.files["netcheck-agent.timer"]
    plist = plistlib.loads(
        install.launchd(cmd, "/Library/x", 3600, 600).files["org.netcheck.agent.plist"].encode()
    )
    assert plist["StartInterval"] == 3600
    assert plist["ProgramArguments"][:3] == ["/usr/bin/netcheck", "agent", "run"]
    task = ET.fromstring(
        install.windows_task([r"C:\netcheck\netcheck.exe"], r"C:\ProgramData\n", 3600, 600).files[
            "netcheck-agent.xml"
        ]
    )
    ns = {"t": install.TASK_NS}
    assert task.find("t:Principals/t:Principal/t:UserId", ns).text == "S-1-5-19"
    assert task.find("t:Principals/t:Principal/t:RunLevel", ns).text == "LeastPrivilege"
    assert task.find("t:Triggers/t:TimeTrigger/t:Repetition/t:Interval", ns).text == "PT60M"


def test_windows_and_macos_proxy_settings_are_read_as_browsers_do() -> None:
    win = osproxy.from_windows_values(
        {
            "ProxyEnable": 1,
            "ProxyServer": "http=px:8080;https=pxs:8443",
            "ProxyOverride": "*.agency.gob;<local>",
        }
    )
    assert win.proxy == "http://pxs:8443"
    assert win.bypass == ("*.agency.gob", "<local>")
    assert osproxy.from_windows_values({"ProxyEnable": 0, "ProxyServer": "px:1"}).proxy is None
    pac = osproxy.from_windows_values({"AutoConfigURL": "http://wpad.agency/p.pac"})
    assert pac.pac == "http://wpad.agency/p.pac"
    assert osproxy.from_windows_values({"AutoDetect": 1}).pac == osproxy.WPAD_URL
    mac = osproxy.from_scutil(
        "<dictionary> {\n  ExceptionsList : <array> {\n    0 : *.local\n    1 : 169.254/16\n"
        "  }\n  HTTPSEnable : 1\n  HTTPSPort : 3128\n  HTTPSProxy : proxy.agency\n"
        "  ProxyAutoConfigEnable : 0\n}\n"
    )
    assert mac.proxy == "http://proxy.agency:3128"
    assert mac.bypass == ("*.local", "169.254/16")
