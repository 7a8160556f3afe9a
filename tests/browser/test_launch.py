"""Finding the browser or refusing cleanly, and what it is launched with.

Without a browser, ``run --browser`` and ``browse`` say so in one line and exit 2 before any
file is written (run as real subprocesses, as a user would); netcheck without ``--browser``
never loads Playwright. The throwaway NSS database really holds the probe's anchors (read back
with ``certutil -L``), and the proxy settings map to what Chromium takes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netcheck.browser.launch import (
    BrowserMissing,
    find_browser,
    import_anchors,
    pac_url,
    prepared,
    proxy_options,
)
from netcheck.measure.proxy import proxy_settings
from netcheck.measure.trust import load_trust
from tests.support.paths import ROOT

TARGETS = "targets:\n  - {url: 'https://www.example.test/', service: agency, function: view}\n"


def _netcheck(args: list[str], tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env},
        check=False,
    )


@pytest.mark.parametrize("command", ["run", "browse"])
def test_no_browser_is_one_line_exit_2_and_nothing_written(tmp_path: Path, command: str) -> None:
    out = tmp_path / "out.jsonl"
    if command == "run":
        (tmp_path / "t.yaml").write_text(TARGETS)
        args = ["run", "--no-catalogue", "--targets", "t.yaml", "--browser", "--out", str(out)]
    else:
        args = ["browse", "https://www.example.test/", "--out", str(out)]
    # PATH holds no browser: a directory with nothing in it
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _netcheck(args, tmp_path, PATH=str(empty), PYTHONPATH=str(ROOT), NETCHECK_BROWSER="")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no Chromium, Chrome or Edge found" in lines[0]
    assert "never downloads" in lines[0]
    assert not out.exists()
    assert not list(tmp_path.glob("*.screenshots"))


def test_a_named_browser_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BrowserMissing, match="no executable browser"):
        find_browser(str(tmp_path / "chrome"))
    with pytest.raises(BrowserMissing):
        find_browser(None, {"NETCHECK_BROWSER": str(tmp_path / "edge"), "PATH": ""})


def test_netcheck_without_browser_flag_never_loads_playwright() -> None:
    code = (
        "import sys, netcheck.runner, netcheck.cli.run_cmd, netcheck.classify; "
        "print(any(m.startswith('playwright') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_anchors_land_in_a_throwaway_nss_database(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    if shutil.which("certutil") is None:
        pytest.fail("needs certutil (Debian libnss3-tools)")
    bundle = tmp_path / "bundle.pem"
    cas = [trustme.CA(), trustme.CA()]
    bundle.write_bytes(b"".join(ca.cert_pem.bytes() for ca in cas))
    assert import_anchors(tmp_path, [str(bundle)]) == 2
    listed = subprocess.run(
        ["certutil", "-L", "-d", f"sql:{tmp_path / '.pki' / 'nssdb'}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert listed.count("netcheck-anchor-") == 2
    assert "C,," in listed
    # and a launch prepares it in a HOME that is gone afterwards
    trust = load_trust(str(bundle), None)
    with prepared("/usr/bin/chromium", proxy_settings("none", None, {}), trust) as launch:
        home = Path(launch.env["HOME"])
        assert (home / ".pki" / "nssdb").is_dir()
        assert "2 trust anchors imported into a throwaway NSS database" in launch.notes
    assert not home.exists()


def test_proxy_settings_map_to_chromium() -> None:
    pw, args = proxy_options(proxy_settings("http://alice:s3cret@proxy.agency.test:3128", None, {}))
    assert pw == {
        "server": "http://proxy.agency.test:3128",
        "username": "alice",
        "password": "s3cret",
    }
    assert args == []
    assert proxy_options(proxy_settings("none", None, {})) == (None, ["--no-proxy-server"])
    env = {"https_proxy": "http://gw.test:8080", "no_proxy": "intranet.test"}
    pw, _ = proxy_options(proxy_settings(None, None, env))
    assert pw == {"server": "http://gw.test:8080", "bypass": "intranet.test"}
    _, args = proxy_options(proxy_settings("http://proxy.agency.test:3128", None, {}, "negotiate"))
    assert args == ["--auth-server-allowlist=proxy.agency.test"]


def test_a_local_pac_file_becomes_a_data_url(tmp_path: Path) -> None:
    pac = tmp_path / "proxy.pac"
    pac.write_text('function FindProxyForURL(url, host) { return "DIRECT"; }')
    url = pac_url(str(pac))
    assert url.startswith("data:application/x-ns-proxy-autoconfig;base64,")
    _, args = proxy_options(proxy_settings("auto", str(pac), {}))
    assert args == [f"--proxy-pac-url={url}"]
    assert json.dumps(args)  # plain strings, handed to Chromium as they are
