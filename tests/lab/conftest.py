"""The lab fixtures: the real namespaces and daemons, built once per test session, and each
scenario's probe run, made once and shared by every lab test that needs it.

Lab tests need root (CI runs as root): the ``lab`` marker makes them ``root`` tests, which
skip with their reason outside CI and fail under CI (tests/conftest.py); a missing Debian tool
fails them with one line naming it. The session uses its own state dir; the namespaces are
the lab's fixed ``nclab-`` names, so a test session replaces any lab a user had running (the
lab's lock keeps the two from interleaving).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from netcheck.lab import scenarios
from netcheck.lab.lifecycle import Lab
from netcheck.lab.runner import ScenarioRun, run_scenario
from tests.support.netns import require_root

STATE = Path("/run/netcheck-lab-test")
NEEDED = ("squid", "unbound", "nginx", "haproxy", "nft", "tc", "ip", "curl", "openssl")
#: the agency's directory (netcheck/lab/accounts.py): a real MIT KDC
NEEDED += ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    require_root("lab tests", "network namespaces, nftables", NEEDED)
    instance = Lab(STATE)
    with instance.locked():
        instance.up(scenarios.load()["clean"])
    yield instance
    with instance.locked():
        instance.down()


class ScenarioRuns:
    """Each scenario's probe run, made on first use. The results (and a copy of the scenario's
    configs, the lines squid logged during the run and the lab's passwords at that time) are
    kept outside the lab's state dir, which a teardown test deletes (and a rebuild renews the
    passwords)."""

    def __init__(self, lab: Lab, keep: Path) -> None:
        self.lab = lab
        self.keep = keep
        self.runs: dict[str, ScenarioRun] = {}
        self.secrets: dict[str, list[str]] = {}

    def get(self, name: str) -> ScenarioRun:
        if name not in self.runs:
            scenario = scenarios.load()[name]
            access = self.lab.state / "squid" / "access.log"
            with self.lab.locked():
                mark = access.stat().st_size if access.is_file() else 0
                run = run_scenario(self.lab, scenario, self.keep / "results")
                shutil.copytree(self.lab.configs(name), self.configs(name), dirs_exist_ok=True)
                self.secrets[name] = self.lab.accounts.secrets()
                logged = b""
                if access.is_file():
                    with access.open("rb") as fh:
                        fh.seek(mark)
                        logged = fh.read()
                self.squid_log(name).write_bytes(logged)
            self.runs[name] = replace(run, results_file=self.keep / "results" / f"{name}.jsonl")
        return self.runs[name]

    def configs(self, name: str) -> Path:
        return self.keep / "configs" / name

    def squid_log(self, name: str) -> Path:
        """squid's access.log lines written while the scenario's probe ran."""
        return self.configs(name) / "squid-access.log"


@pytest.fixture(scope="session")
def runs(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> ScenarioRuns:
    return ScenarioRuns(lab, tmp_path_factory.mktemp("lab-runs"))
