"""The probe profile: everything ``netcheck run`` needs to measure from inside the lab.

In: a scenario and the lab's paths. Out: ``profile.json`` (resolver, CA files, allowed nets,
proxy, targets file, services, timeout, the control vantage when the scenario uses it, what
answers the proxy's 407) and the ``netcheck run`` argv built from it, so that
``netcheck lab run`` — and anyone reproducing a lab run by hand — needs no extra flags.

Proxy credentials stay out of the profile: it names the user and the file holding the password,
and ``probe_argv`` puts them in the ``--proxy`` URL only when it builds the command. A Kerberos
scenario's profile carries the environment that points the probe at the staff user's ticket.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import Field

from netcheck.lab import accounts, sites, topology
from netcheck.lab.scenarios import Scenario
from netcheck.models import Frozen

PROBE_TIMEOUT = 3.0
#: ssl_bump mints a certificate per host and doubles the handshakes: on two cores a burst of
#: first-time bumps can stall a handshake past 2-3 s, which would read as tls-timeout
BUMP_TIMEOUT = 6.0
CONTROL_URL = f"http://{topology.CONTROL_IP}:{topology.CONTROL_PORT}"
#: seconds per page in browser scenarios: a dropped websocket waits this long before it
#: counts as failed
BROWSER_DEADLINE = 12.0


class Profile(Frozen):
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
    bandwidth_control: str | None = Field(None, description="run --bandwidth against this")
    bandwidth_urls: dict[str, str] = Field(default_factory=dict, description="service -> URL")
    control: str | None = Field(None, description="run --control against this control vantage")
    control_token_file: str | None = None
    proxy_user: str | None = Field(None, description="user put in the --proxy URL")
    proxy_password_file: str | None = Field(None, description="its password, read at run time")
    proxy_auth: str | None = Field(None, description="--proxy-auth (negotiate: a ticket)")
    env: dict[str, str] = Field(default_factory=dict, description="the probe's environment")
    browser: bool = Field(False, description="run --browser (Chromium in the namespace)")


def build(
    scenario: Scenario,
    public_ca: Path,
    corporate_ca: Path,
    targets: Path,
    control_token: Path | None = None,
    directory: accounts.Accounts | None = None,
) -> Profile:
    proxy = f"http://{topology.GW_INSIDE_IP}:{topology.PROXY_PORT}" if scenario.proxied else "none"
    auth: dict[str, object] = {}
    if directory is not None and scenario.credentials in ("password", "wrong-password"):
        secret = scenario.credentials == "password"
        auth = {
            "proxy_user": accounts.STAFF_USER,
            "proxy_password_file": str(
                directory.password_file if secret else directory.wrong_password_file
            ),
        }
    elif directory is not None and scenario.credentials == "ticket":
        # Kerberos names the proxy: its service principal is HTTP/<the name in the URL>
        proxy = f"http://{accounts.PROXY_FQDN}:{topology.PROXY_PORT}"
        auth = {"proxy_auth": "negotiate", "env": directory.probe_env()}
    # a shaped scenario also measures goodput: the shaped service's media host against the
    # unshaped bulk endpoint (both serve the sparse large object)
    control = f"http://{sites.BULK_HOST}{sites.LARGE_PATH}" if scenario.shape else None
    media = {"youtube": "i.ytimg.com", "facebook": "static.xx.fbcdn.net"}
    urls = (
        {scenario.shape.service: f"https://{media[scenario.shape.service]}{sites.LARGE_PATH}"}
        if scenario.shape and scenario.shape.service in media
        else {}
    )
    made = Profile(
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
        bandwidth_control=control,
        bandwidth_urls=urls,
        control=CONTROL_URL if scenario.control else None,
        control_token_file=str(control_token) if scenario.control and control_token else None,
        browser=scenario.browser,
    )
    return made.model_copy(update=auth)


def write(profile: Profile, path: Path) -> None:
    path.write_text(json.dumps(profile.model_dump(), indent=2) + "\n")


def read(path: Path) -> Profile:
    return Profile.model_validate_json(path.read_text())


def probe_argv(profile: Profile, out: Path) -> list[str]:
    """``netcheck run`` in the client namespace, every setting passed as a flag."""
    argv = [*accounts.env_argv(profile.env)] if profile.env else []
    argv += [sys.executable, "-m", "netcheck", "run", "--targets", profile.targets]
    for resolver in profile.resolver:
        argv += ["--resolver", resolver]
    argv += ["--ca-bundle", profile.ca_bundle, "--local-ca", profile.local_ca]
    for net in profile.allow_net:
        argv += ["--allow-net", net]
    proxy = profile.proxy
    if profile.proxy_user is not None and profile.proxy_password_file is not None:
        password = Path(profile.proxy_password_file).read_text().strip()
        proxy = accounts.with_credentials(proxy, profile.proxy_user, password)
    argv += ["--proxy", proxy, "--timeout", str(profile.timeout)]
    if profile.proxy_auth is not None:
        argv += ["--proxy-auth", profile.proxy_auth]
    argv += ["--network", profile.network, "--probe-id", "nclab-client"]
    for service in profile.services:
        argv += ["--service", service]
    if profile.bandwidth_control is not None:
        argv += ["--bandwidth", "--bandwidth-control", profile.bandwidth_control]
        for service, url in profile.bandwidth_urls.items():
            argv += ["--bandwidth-url", f"{service}={url}"]
    if profile.control is not None and profile.control_token_file is not None:
        argv += ["--control", profile.control, "--control-token-file", profile.control_token_file]
    if profile.browser:
        argv += ["--browser", "--browser-deadline", str(BROWSER_DEADLINE)]
    argv += ["--out", str(out), "--json"]
    return topology.ns_argv(profile.namespace, argv)
