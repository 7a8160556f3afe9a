"""Bringing the lab up, switching its scenario, and tearing it down.

In: a state dir (default ``/run/netcheck-lab``) and scenarios. Out: a running lab —

- ``up(scenario)``: builds the topology and the fake internet once (PKI, pages, nginx, upstream
  resolver), the agency's directory (staff account, Kerberos realm and its KDC: ``accounts``),
  renders every scenario's configs to ``<state>/configs/<scenario>/``, and applies one.
- ``apply(scenario)``: loads that scenario's nftables ruleset and shaping, restarts the gateway
  resolver, and restarts squid, haproxy and nginx only when their config text changes; gives
  the staff user a Kerberos ticket when the scenario's probe uses one. The daemons run the files
  in ``configs/<scenario>/`` themselves, so what is there is exactly what ran.
- ``down()``: kills every daemon (by pid file, then every pid left in an ``nclab-`` namespace),
  deletes the namespaces and the state dir. Idempotent; works after a crash.

One lock file (``/run/lock/netcheck-lab.lock``) keeps two ``up``/``run``/``down`` from interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from netcheck.errors import NetcheckError
from netcheck.lab import (
    accounts,
    browserpages,
    daemons,
    haproxy,
    internet,
    nft,
    pki,
    profile,
    shaping,
    sites,
    squid,
    topology,
)
from netcheck.lab import unbound as unboundconf
from netcheck.lab.scenarios import Scenario
from netcheck.lab.scenarios import load as load_scenarios

DEFAULT_STATE = Path("/run/netcheck-lab")
LOCK_FILE = Path("/run/lock/netcheck-lab.lock")
CONFIG_FILES = (
    "squid.conf",
    "rpz.zone",
    "nftables.conf",
    "haproxy.cfg",
    "unbound.conf",
    "nginx.conf",
    "origin-nftables.conf",
)
#: daemons that run only while a scenario needs them
INJECTOR = "dns-injector"
RELAY = "dns-slow-relay"


class Lab:
    def __init__(self, state: Path = DEFAULT_STATE) -> None:
        self.state = state
        self.daemons = daemons.Daemons(state)
        self.pki = pki.Pki(
            public_ca=state / "pki" / "public-ca.pem",
            public_ca_key=state / "pki" / "public-ca.key",
            corporate_ca=state / "pki" / "corporate-ca.pem",
            corporate_ca_key=state / "pki" / "corporate-ca.key",
            leaves=state / "pki" / "leaves",
        )
        self.accounts = accounts.Accounts(state)
        self.targets_file = state / "targets.yaml"
        self.results = state / "results"

    # --- locking ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        topology.require_root()
        # one lock for every state dir: the namespaces' names are global
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        with LOCK_FILE.open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # --- state -----------------------------------------------------------------------------

    def configs(self, name: str) -> Path:
        return self.state / "configs" / name

    def current(self) -> str | None:
        try:
            return (self.state / "current").read_text().strip() or None
        except OSError:
            return None

    def built(self) -> bool:
        return (self.state / "built.json").is_file() and topology.is_up()

    def healthy(self) -> bool:
        names = (
            "nginx",
            "unbound-upstream",
            "unbound-lame",
            "unbound-gateway",
            "squid",
            "haproxy",
            "unbound-control",
            "control",
            internet.WSECHO,
            accounts.KDC_DAEMON,
        )
        return self.built() and all(self.daemons.alive(n) for n in names)

    def site_plan(self) -> list[sites.Site]:
        # the hosts browser-mode pages pull in have sites too, without being measured targets
        return sites.plan(sites.lab_targets() + browserpages.support_targets())

    @property
    def control_token(self) -> Path:
        return self.state / "control.token"

    @staticmethod
    def edges() -> dict[str, str]:
        """Host -> its second (edge) address, for every host some scenario's ``geo`` names."""
        hosts = sorted({h.lower() for s in load_scenarios().values() for h in s.geo})
        return {host: topology.edge_ip(n) for n, host in enumerate(hosts)}

    @staticmethod
    def narrow_hosts() -> list[str]:
        """Every host some scenario serves with a certificate for its own name only."""
        return sorted({h.lower() for s in load_scenarios().values() for h in s.narrow_certs})

    # --- up --------------------------------------------------------------------------------

    def up(self, scenario: Scenario) -> None:
        if not self.healthy():
            self.down()
            self._build()
        self.apply(scenario)

    def _build(self) -> None:
        """The fake internet, once: pages and certificates, nginx, the resolvers, the control
        vantage, every scenario's configs, then the namespaces and the daemons outside."""
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)  # squid (proxy) and nginx workers (www-data) read below it
        plan = self.site_plan()
        extras = [t.as_json(exclude_defaults=True) for t in sites.extra_targets()]
        self.targets_file.write_text(yaml.safe_dump({"targets": extras}, sort_keys=False))
        hosts = {s.host: list(s.cert_names) for s in plan}
        hosts[sites.BULK_HOST] = [sites.BULK_HOST, sites.CONTROL_HOST]
        pki.build(self.state / "pki", hosts, self.narrow_hosts())
        edges = self.edges()
        internet.write_web(self.state, self.pki, plan, edges)
        internet.write_resolvers(self.state, plan, edges)
        self.control_token.write_text(secrets.token_urlsafe(32) + "\n")
        self.control_token.chmod(0o600)
        squid.prepare(self.state / "squid", self.pki.corporate_ca_key)
        self.accounts.create(self.state / "squid")
        (self.state / "haproxy").mkdir(exist_ok=True)
        for scenario in load_scenarios().values():
            self.render(scenario, plan)
        resolv = f"# netcheck lab client\nnameserver {topology.GW_INSIDE_IP}\n"
        extra_ips = [unboundconf.LAME_DNS_IP, topology.CONTROL_DNS_IP, topology.SLOW_DNS_IP]
        extra_ips += list(edges.values())
        topology.create([s.ip for s in plan] + extra_ips, resolv)
        internet.start(self.daemons, self.state, self.control_token, self.pki.public_ca)
        self._start_directory()
        built = {"sites": {s.host: s.ip for s in plan}, "state": str(self.state)}
        (self.state / "built.json").write_text(json.dumps(built, indent=2) + "\n")

    def _start_directory(self) -> None:
        """The agency's KDC, inside, on the gateway (its address exists once the links do)."""
        self.daemons.start(accounts.KDC_DAEMON, topology.GATEWAY, self.accounts.kdc_argv())
        daemons.ensure_listening(
            self.daemons,
            accounts.KDC_DAEMON,
            topology.GATEWAY,
            [("tcp", self.accounts.realm.kdc_ip, self.accounts.realm.kdc_port)],
        )

    def render(self, scenario: Scenario, plan: list[sites.Site]) -> Path:
        """Write every config file of one scenario; returns its directory."""
        out = self.configs(scenario.name)
        out.mkdir(parents=True, exist_ok=True)
        rpz = out / "rpz.zone"
        rpz.write_text(unboundconf.render_rpz(scenario.dns))
        dns_dir = self.state / "dns"
        slow = [scenario.dns_inject.name] if scenario.dns_inject else []
        (out / "unbound.conf").write_text(
            unboundconf.render_gateway(scenario.dns, dns_dir, rpz, slow, accounts.DNS_RECORDS)
        )
        (out / "origin-nftables.conf").write_text(
            nft.render_origin(sites.ips_for(plan, scenario.origin_down))
        )
        fw = scenario.firewall
        ruleset = nft.render(
            sites.ips_for(plan, fw.reset),
            sites.ips_for(plan, fw.blackhole),
            fw.udp443,
            bool(scenario.sni_reject),
        )
        (out / "nftables.conf").write_text(ruleset)
        shaped, rate = self._shape(scenario, plan)
        (out / "tc.sh").write_text(shaping.script(topology.GW_IN_IF, shaped, rate))
        (out / "haproxy.cfg").write_text(
            haproxy.render(scenario.sni_reject, self.state / "haproxy")
        )
        (out / "squid.conf").write_text(
            squid.render(
                scenario.proxy,
                self.state / "squid",
                self.pki.corporate_ca,
                self.pki.corporate_ca_key,
                self.pki.public_ca,
                keytab=self.accounts.keytab,
                principal=self.accounts.principal,
            )
        )
        narrow = [h.lower() for h in scenario.narrow_certs]
        (out / "nginx.conf").write_text(
            internet.nginx_text(self.state, self.pki, plan, self.edges(), narrow)
        )
        (out / "upstream-unbound.conf").write_text((dns_dir / "upstream.conf").read_text())
        prof = profile.build(
            scenario,
            self.pki.public_ca,
            self.pki.corporate_ca,
            self.targets_file,
            self.control_token,
            self.accounts,
        )
        profile.write(prof, out / "profile.json")
        return out

    def _shape(self, scenario: Scenario, plan: list[sites.Site]) -> tuple[str | None, str]:
        if scenario.shape is None:
            return None, "0"
        index = sites.service_index(plan, scenario.shape.service)
        return topology.service_net(index), scenario.shape.rate

    # --- apply -----------------------------------------------------------------------------

    def apply(self, scenario: Scenario) -> None:
        plan = self.site_plan()
        out = self.render(scenario, plan)
        topology.ns_run(topology.GATEWAY, ["nft", "-f", str(out / "nftables.conf")])
        topology.ns_run(topology.INTERNET, ["nft", "-f", str(out / "origin-nftables.conf")])
        self._injection(scenario)
        shaped, rate = self._shape(scenario, plan)
        shaping.apply(topology.GW_IN_IF, shaped, rate)
        self._restart(
            "unbound-gateway",
            ["unbound", "-d", "-c", str(out / "unbound.conf")],
            out / "unbound.conf",
            [("udp", topology.GW_INSIDE_IP, 53)],
            force=True,
        )
        self._restart(
            "squid",
            # its Negotiate helper reads the lab realm's krb5.conf, never the host's
            [
                *accounts.env_argv(self.accounts.squid_env()),
                "squid",
                "-N",
                "-f",
                str(out / "squid.conf"),
            ],
            out / "squid.conf",
            [("tcp", topology.GW_INSIDE_IP, topology.PROXY_PORT)],
        )
        self._restart(
            "haproxy",
            ["haproxy", "-db", "-f", str(out / "haproxy.cfg")],
            out / "haproxy.cfg",
            [("tcp", topology.GW_INSIDE_IP, topology.SNI_PORT)],
        )
        self._restart(
            "nginx",
            ["nginx", "-c", str(out / "nginx.conf")],
            out / "nginx.conf",
            [("tcp", topology.BULK_IP, 443)],
            ns=topology.INTERNET,
        )
        if scenario.credentials == "ticket":
            self.accounts.kinit()
        shutil.copyfile(out / "profile.json", self.state / "profile.json")
        (self.state / "current").write_text(scenario.name + "\n")

    def _injection(self, scenario: Scenario) -> None:
        """Start the injector and its slow relay for a dns_inject scenario; else stop them."""
        self.daemons.stop(INJECTOR)
        self.daemons.stop(RELAY)
        inj = scenario.dns_inject
        if inj is None:
            return
        python = [sys.executable, "-m", "netcheck.lab.dnsinject"]
        self.daemons.start(
            RELAY,
            topology.INTERNET,
            [
                *python,
                "relay",
                topology.SLOW_DNS_IP,
                topology.UPSTREAM_DNS_IP,
                str(inj.resolver_delay),
            ],
        )
        mark = self._log_size(INJECTOR)
        self.daemons.start(
            INJECTOR, topology.GATEWAY, [*python, "inject", topology.GW_IN_IF, inj.name, inj.answer]
        )
        daemons.ensure_listening(
            self.daemons, RELAY, topology.INTERNET, [("udp", topology.SLOW_DNS_IP, 53)]
        )
        self._wait_ready(INJECTOR, mark)

    def _log_size(self, name: str) -> int:
        try:
            return (self.daemons.logs / f"{name}.log").stat().st_size
        except OSError:
            return 0

    def _wait_ready(self, name: str, offset: int, timeout: float = 15.0) -> None:
        """Wait for the daemon to print ``ready`` (a sniffer has no socket ``ss`` could show)."""
        log = self.daemons.logs / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with log.open("rb") as fh:
                    fh.seek(offset)
                    if b"ready" in fh.read():
                        return
            except OSError:
                pass
            if not self.daemons.alive(name):
                break
            time.sleep(0.05)
        raise NetcheckError(f"lab: {name} did not start\n{self.daemons.log_tail(name)}")

    def _restart(
        self,
        name: str,
        argv: list[str],
        conf: Path,
        listen: list[tuple[str, str, int]],
        force: bool = False,
        ns: str = topology.GATEWAY,
    ) -> None:
        running = self.state / internet.RUNNING / name
        running.parent.mkdir(exist_ok=True)
        text = conf.read_text()
        unchanged = running.is_file() and running.read_text() == text
        if not force and unchanged and self.daemons.alive(name):
            return
        self.daemons.stop(name)
        self.daemons.start(name, ns, argv)
        running.write_text(text)
        daemons.ensure_listening(self.daemons, name, ns, listen)

    # --- down / status ---------------------------------------------------------------------

    def down(self, keep_files: bool = False) -> None:
        for name in self.daemons.names():
            self.daemons.stop(name, grace=2.0)
        for ns in topology.existing_namespaces():
            pids = topology.namespace_pids(ns)
            if pids:
                daemons.terminate(pids, grace=2.0)
        topology.destroy()
        if keep_files:
            shutil.rmtree(self.state / "pids", ignore_errors=True)
        elif self.state.is_dir():
            shutil.rmtree(self.state, ignore_errors=True)

    def status(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "namespaces": topology.existing_namespaces(),
            "scenario": self.current(),
            "daemons": {n: self.daemons.alive(n) for n in self.daemons.names()},
        }
