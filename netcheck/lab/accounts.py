"""The agency's directory: the staff account its authenticating proxy knows, and its realm.

In: the lab's state dir. Out, made once per ``lab up`` (``Accounts.create``):

- a staff user (``agente``) with a fresh random password, and a wrong one for the refused case,
  each in a 0600 file under ``<state>/accounts/`` — the probe reads them from there; they never
  go in a profile, a record or a log line;
- the password files squid's Basic and Digest helpers read (hashes only:
  ``squid.write_auth_files``);
- a Kerberos realm (``netcheck.lab.kdc``) with the proxy's service principal
  ``HTTP/proxy.agency.nclab.example``, its keytab for ``negotiate_kerberos_auth``, and the staff
  user's principal with the same password, as Active Directory gives one password for both.

The KDC runs in ``nclab-gateway`` on the gateway's inside address, where an agency's domain
controller sits: inside, next to the proxy. The proxy's name resolves forward and reverse in
the gateway's resolver (``DNS_RECORDS``), as Kerberos deployments expect. ``kinit`` gives the
staff user a ticket in the client namespace (password on stdin), and ``probe_env`` is what the
probe then runs with to use it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from netcheck.lab import kdc, squid, topology

DOMAIN = "agency.nclab.example"
REALM = DOMAIN.upper()
PROXY_FQDN = f"proxy.{DOMAIN}"
STAFF_USER = "agente"
#: name -> address the gateway's resolver answers, forward and reverse (PTR)
DNS_RECORDS = {PROXY_FQDN: topology.GW_INSIDE_IP}
KDC_DAEMON = "kdc"


def env_argv(env: dict[str, str]) -> list[str]:
    """``env K=V ...`` before an argv: ``ip netns exec`` then execs the program with them
    (one pid, the program's own, as the lab's daemon runner needs)."""
    return ["env", *(f"{k}={v}" for k, v in sorted(env.items()))]


def with_credentials(proxy_url: str, user: str, password: str) -> str:
    """``http://host:port`` -> ``http://user:password@host:port`` (both percent-encoded)."""
    parts = urlsplit(proxy_url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class Accounts:
    def __init__(self, state: Path) -> None:
        self.dir = state / "accounts"
        self.realm = kdc.Realm(REALM, state / "krb", topology.GW_INSIDE_IP)

    @property
    def password_file(self) -> Path:
        return self.dir / "password"

    @property
    def wrong_password_file(self) -> Path:
        return self.dir / "wrong-password"

    @property
    def principal(self) -> str:
        """The proxy's service principal, as squid's helper is told to accept it."""
        return f"HTTP/{PROXY_FQDN}@{REALM}"

    @property
    def keytab(self) -> Path:
        return self.realm.keytab(PROXY_FQDN)

    @property
    def ccache(self) -> Path:
        return self.realm.ccache(STAFF_USER)

    def secrets(self) -> list[str]:
        """Every password of the lab's directory (what no record or log may carry)."""
        found = []
        for path in (self.password_file, self.wrong_password_file):
            try:
                found.append(path.read_text().strip())
            except OSError:
                continue
        return [s for s in found if s]

    def create(self, squid_dir: Path) -> None:
        """Passwords, squid's password files (in its work dir) and the Kerberos realm."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        password = secrets.token_urlsafe(18)
        for path, text in (
            (self.password_file, password),
            (self.wrong_password_file, "not-" + secrets.token_urlsafe(12)),
        ):
            path.write_text(text + "\n")
            path.chmod(0o600)
        squid.write_auth_files(squid_dir, {STAFF_USER: password})
        self.realm.workdir.mkdir(parents=True, exist_ok=True)
        kdc.create(self.realm, DOMAIN, [PROXY_FQDN], {STAFF_USER: password})

    def kdc_argv(self) -> list[str]:
        return [*env_argv(self.realm.env()), *self.realm.kdc_argv()]

    def squid_env(self) -> dict[str, str]:
        """squid passes its environment to ``negotiate_kerberos_auth``: the lab's krb5.conf,
        never the host's."""
        return self.realm.env()

    def kinit(self) -> None:
        """A fresh ticket for the staff user in the client namespace, as after a logon."""
        self.ccache.unlink(missing_ok=True)
        argv = [*env_argv(self.realm.env()), *kdc.kinit_argv(self.realm, STAFF_USER)]
        topology.ns_run(topology.CLIENT, argv, input_text=self.password_file.read_text())

    def probe_env(self) -> dict[str, str]:
        """What the probe runs with to present the staff user's ticket."""
        return {"KRB5_CONFIG": str(self.realm.krb5_conf), "KRB5CCNAME": f"FILE:{self.ccache}"}
