"""The probe profile: everything ``netcheck run`` needs to measure from inside the lab.

In: a scenario and the lab's paths. Out: ``profile.json`` (resolver, CA files, allowed nets,
proxy, targets file, services, timeout) and the ``netcheck run`` argv built from it, so that
``netcheck lab run`` — and anyone reproducing a lab run by hand — needs no extra flags.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from netcheck.lab import topology
from netcheck.lab.scenarios import Scenario

PROBE_TIMEOUT = 3.0
#: ssl_bump mints a certificate per host and doubles the handshakes: on two cores a burst of
#: first-time bumps can stall a handshake past 2-3 s, which would read as tls-timeout
BUMP_TIMEOUT = 6.0


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: str
    network: str
    resolver: list[str]
    ca_bundle: str
    local_ca: str
    allow_net: list[str]
    proxy: str
    targets: str
    services: list[str] = Field(default_factory=list, description="empty = whole catalogue")
    timeout: float = PROBE_TIMEOUT
    namespace: str = topology.CLIENT


def build(scenario: Scenario, public_ca: Path, corporate_ca: Path, targets: Path) -> Profile:
    proxy = f"http://{topology.GW_INSIDE_IP}:{topology.PROXY_PORT}" if scenario.proxied else "none"
    return Profile(
        scenario=scenario.name,
        network=f"lab-{scenario.name}",
        resolver=[topology.GW_INSIDE_IP],
        ca_bundle=str(public_ca),
        local_ca=str(corporate_ca),
        allow_net=[topology.LAB_NET],
        proxy=proxy,
        targets=str(targets),
        services=list(scenario.services or []),
        timeout=BUMP_TIMEOUT if scenario.proxy.mode == "bump" else PROBE_TIMEOUT,
    )


def write(profile: Profile, path: Path) -> None:
    path.write_text(json.dumps(profile.model_dump(), indent=2) + "\n")


def read(path: Path) -> Profile:
    return Profile.model_validate_json(path.read_text())


def probe_argv(profile: Profile, out: Path) -> list[str]:
    """``netcheck run`` in the client namespace, every setting passed as a flag."""
    argv = [sys.executable, "-m", "netcheck", "run", "--targets", profile.targets]
    for resolver in profile.resolver:
        argv += ["--resolver", resolver]
    argv += ["--ca-bundle", profile.ca_bundle, "--local-ca", profile.local_ca]
    for net in profile.allow_net:
        argv += ["--allow-net", net]
    argv += ["--proxy", profile.proxy, "--timeout", str(profile.timeout)]
    argv += ["--network", profile.network, "--probe-id", "nclab-client"]
    for service in profile.services:
        argv += ["--service", service]
    argv += ["--out", str(out), "--json"]
    return topology.ns_argv(profile.namespace, argv)
