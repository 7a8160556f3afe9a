"""The lab's safety and plumbing: isolation from the host, files written, throttling, teardown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netcheck.cli import app as cli_app
from netcheck.lab import lifecycle, scenarios, topology
from netcheck.lab.lifecycle import Lab

pytestmark = pytest.mark.lab


def test_namespaces_have_no_route_out_of_the_lab(lab: Lab) -> None:
    for ns in topology.NAMESPACES:
        routes = topology.ns_run(ns, ["ip", "-4", "route", "show"])
        assert "default" not in routes
        for line in routes.splitlines():
            dest = line.split()[0]
            assert dest.startswith(("198.18.", "198.19.")), line
        links = json.loads(topology.ns_run(ns, ["ip", "-j", "link", "show"]))
        names = {link["ifname"] for link in links}
        assert names - {"lo"}
        assert all(n.startswith(topology.PREFIX) for n in names - {"lo"})
        assert not topology.ns_run(ns, ["ip", "-6", "route", "show"]).strip()


def test_daemons_bind_lab_addresses_only(lab: Lab) -> None:
    for ns in topology.NAMESPACES:
        out = topology.ns_run(ns, ["ss", "-Htuln"])
        for line in out.splitlines():
            local = line.split()[4].rsplit(":", 1)[0]
            assert local.startswith(("198.18.", "198.19.", "127.")), line


def test_every_scenario_config_is_written(lab: Lab) -> None:
    for name in scenarios.load():
        folder = lab.configs(name)
        for filename in lifecycle.CONFIG_FILES + ("profile.json",):
            assert (folder / filename).is_file(), folder / filename
    squid_conf = (lab.configs("proxy-blockpage") / "squid.conf").read_text()
    assert "error_default_language es" in squid_conf
    assert "dns_nameservers 198.18.0.1" in squid_conf
    assert "CNAME rpz-drop." in (lab.configs("dns-drop") / "rpz.zone").read_text()


def test_daemons_run_the_written_files(lab: Lab) -> None:
    with lab.locked():
        lab.apply(scenarios.load()["official-path-blocked"])
    squid_pid = lab.daemons.pid("squid")
    cmdline = Path(f"/proc/{squid_pid}/cmdline").read_text().split("\0")
    assert str(lab.configs("official-path-blocked") / "squid.conf") in cmdline
    ruleset = topology.ns_run(topology.GATEWAY, ["nft", "list", "ruleset"])
    assert "table ip nclab" in ruleset


def _rate(url: str, lab: Lab) -> float:
    out = topology.ns_run(
        topology.CLIENT,
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--max-time",
            "1.5",
            "--cacert",
            str(lab.pki.public_ca),
            "-w",
            "%{speed_download}",
            url,
        ],
        check=False,
    )
    return float(out or 0)


def test_throttled_service_is_slower_than_the_bulk_endpoint(lab: Lab) -> None:
    with lab.locked():
        lab.apply(scenarios.load()["throttled"])
        shaped = _rate("https://www.youtube.com/__lab/large.bin", lab)
        bulk = _rate("https://bulk.nclab.example/__lab/large.bin", lab)
        lab.apply(scenarios.load()["clean"])
        unshaped = _rate("https://www.youtube.com/__lab/large.bin", lab)
    assert 0 < shaped < 1_000_000  # 5 Mbit/s = 625 kB/s
    assert bulk > 10 * shaped
    assert unshaped > 10 * shaped


def test_lab_refuses_to_run_without_root(tmp_path: Path) -> None:
    """``lab up`` as an unprivileged user: one line naming root, exit 2, nothing created."""
    runner = CliRunner()
    runner.invoke(cli_app, ["lab", "up", "--help"])  # load click/rich lazily-imported parts as root
    # and the scenario file (importlib.resources imports importlib.readers on first use): an
    # interpreter installed under /root cannot be read by the unprivileged user this test becomes
    scenarios.load()
    os.seteuid(65534)
    try:
        result = runner.invoke(cli_app, ["lab", "up", "--state-dir", str(tmp_path / "state")])
    finally:
        os.seteuid(0)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "needs root" in result.output
    assert not (tmp_path / "state").exists()


def test_down_is_idempotent_and_leaves_nothing(lab: Lab) -> None:
    pids = [lab.daemons.pid(n) for n in lab.daemons.names()]
    with lab.locked():
        lab.down()
        lab.down()
    assert topology.existing_namespaces() == []
    assert not lab.state.exists()
    for pid in pids:
        assert pid is not None
        with pytest.raises(FileNotFoundError):
            Path(f"/proc/{pid}/stat").read_text()
    # and the lab comes back for whatever test runs next
    with lab.locked():
        lab.up(scenarios.load()["clean"])
    assert lab.healthy()
