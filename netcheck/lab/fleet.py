"""A small fleet in the lab: real agents in the client namespace uploading to a real collector.

In: an up lab, a fleet plan (which scenario plays which network, how many probes per network,
how many days) and a collector data folder. Out: the collector's data folder filled by real
agents — each enrolled once with its own key, each measuring with ``netcheck agent run --once``
and the scenario's own ``netcheck run`` flags, on successive days — and ``netcheck server
export`` of it.

Where the collector runs: inside the client namespace, on its loopback, for the length of each
scenario (the lab's namespaces have no link to the host's network, and each scenario re-applies
the agency network around the client). Its data folder is on the host's file system, so the same
collector — database, archive, probes' chains — goes on from scenario to scenario and day to day.

Days: the agent runs under libfaketime (Debian ``faketime``) with ``+N d``, the monotonic clock
left alone (``DONT_FAKE_MONOTONIC=1``), so records carry the day they stand for. The lab's
certificates are valid from the day before they were made, so only days ahead can be faked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netcheck.errors import NetcheckError
from netcheck.lab import profile, topology
from netcheck.lab.lifecycle import Lab
from netcheck.lab.scenarios import select

COLLECTOR = "127.0.0.1:8443"
FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
)
#: flags of `netcheck run` the agent decides itself (enrollment), or that only `run` has
_AGENT_DECIDES = {"--network", "--probe-id", "--out"}
_RUN_ONLY = {"--json"}


@dataclass(frozen=True)
class Site:
    scenario: str  # the lab scenario the network behaves like
    network: str  # the label its probes are enrolled with
    probes: int = 1


DEFAULT_PLAN = (
    Site("clean", "sede-central", probes=2),
    Site("official-path-blocked", "sede-norte"),
    Site("admin-blocked", "sede-sur"),
)


def faketime_lib() -> str:
    for path in FAKETIME_LIBS:
        if Path(path).exists():
            return path
    raise NetcheckError("lab fleet: libfaketime is missing (Debian package faketime)")


def agent_argv(run_argv: list[str], state: Path) -> list[str]:
    """The scenario's `netcheck run` argv (in the namespace) as `netcheck agent run --once`."""
    out: list[str] = []
    skip = False
    for i, arg in enumerate(run_argv):
        if skip:
            skip = False
            continue
        if arg in _AGENT_DECIDES:
            skip = True
            continue
        if arg in _RUN_ONLY:
            continue
        if arg == "run" and run_argv[i - 1] == "netcheck":
            out += ["agent", "run", "--once", "--state", str(state)]
            continue
        out.append(arg)
    return out


class Fleet:
    def __init__(self, lab: Lab, data: Path, agents: Path) -> None:
        self.lab, self.data, self.agents = lab, data, agents
        self.proc: subprocess.Popen[bytes] | None = None

    def _collector(self) -> None:
        log = (self.data.parent / "collector.log").open("ab")
        self.proc = subprocess.Popen(
            topology.ns_argv(
                "nclab-client",
                [
                    sys.executable,
                    "-m",
                    "netcheck",
                    "server",
                    "serve",
                    "--data",
                    str(self.data),
                    "--bind",
                    COLLECTOR,
                    "--rate",
                    "100",
                ],
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            probe = topology.ns_argv(
                "nclab-client",
                [
                    sys.executable,
                    "-c",
                    "import httpx,sys; sys.exit(httpx.get("
                    f"'http://{COLLECTOR}/v1/health').status_code != 200)",
                ],
            )
            if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
                return
            time.sleep(0.3)
        raise NetcheckError("lab fleet: the collector did not start")

    def _stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None

    def _enroll(self, state: Path, network: str) -> None:
        if (state / "agent.json").exists():
            return
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "netcheck",
                "server",
                "enroll",
                "--data",
                str(self.data),
                "--network",
                network,
                "--expires",
                "1h",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        topology.ns_run(
            "nclab-client",
            [
                sys.executable,
                "-m",
                "netcheck",
                "agent",
                "enroll",
                "--server",
                f"http://{COLLECTOR}",
                "--code",
                code,
                "--state",
                str(state),
            ],
        )

    def run(self, plan: tuple[Site, ...], days: int) -> None:
        lib = faketime_lib()
        for day in range(days):
            for site in plan:
                (scenario,) = select(site.scenario)
                self.lab.up(scenario)
                prof = profile.read(self.lab.configs(scenario.name) / "profile.json")
                run_argv = profile.probe_argv(prof, Path("unused.jsonl"))
                self._collector()
                try:
                    for n in range(site.probes):
                        state = self.agents / f"{site.network}-{n + 1}"
                        self._enroll(state, site.network)
                        env = {
                            **os.environ,
                            "LD_PRELOAD": lib,
                            "FAKETIME": f"+{day}d",
                            "DONT_FAKE_MONOTONIC": "1",
                        }
                        done = subprocess.run(
                            agent_argv(run_argv, state),
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600,
                            check=False,
                        )
                        if done.returncode != 0:
                            raise NetcheckError(
                                f"lab fleet: agent {state.name} failed on day {day}: "
                                f"{done.stderr.strip()[-1500:]}"
                            )
                        print(f"day {day}: {state.name} ({site.scenario})", file=sys.stderr)
                finally:
                    self._stop()


def make(out: Path, *, state: Path, days: int = 3, plan: tuple[Site, ...] = DEFAULT_PLAN) -> Path:
    """Build the fleet into ``out`` (``out/collector`` data, ``out/export.jsonl``); the lab is
    left up (the caller takes it down)."""
    lab = Lab(state)
    data = out / "collector"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    fleet = Fleet(lab, data, state / "fleet-agents")
    shutil.rmtree(state / "fleet-agents", ignore_errors=True)
    with lab.locked():
        fleet.run(plan, days)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "server",
            "export",
            "--data",
            str(data),
            "--out",
            str(out / "export.jsonl"),
        ],
        check=True,
    )
    return data


def main() -> None:  # python -m netcheck.lab.fleet OUT STATE [DAYS]
    out, state = Path(sys.argv[1]), Path(sys.argv[2])
    days = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    make(out, state=state, days=days)


if __name__ == "__main__":
    main()
