"""A throw-away MIT Kerberos realm for the lab: a real KDC an authenticating proxy trusts.

In: a directory, a realm name, the KDC's address and the names to create (the proxy's service
principal ``HTTP/<proxy fqdn>``, a staff user). Out: ``krb5.conf`` and ``kdc.conf`` in that
directory, a database made with ``kdb5_util create -s``, principals added with ``kadmin.local``,
the proxy's keytab (``ktadd``) for squid's ``negotiate_kerberos_auth``, ``krb5kdc -n`` as a
foreground argv for the caller to run (in a namespace), and ``kinit`` with the password on
stdin, so the user holds a ticket exactly as a staff member after logging in does.

Nothing reads the host's ``/etc/krb5.conf``: every program gets ``KRB5_CONFIG`` and
``KRB5_KDC_PROFILE`` from ``Realm.env``. ``rdns`` and ``dns_canonicalize_hostname`` are off, so the
service principal is the proxy's name as configured (no reverse lookup can leak out of the lab),
and the KDC is named by address. Debian packages: krb5-kdc, krb5-admin-server, krb5-user.
"""

from __future__ import annotations

import os
import pwd
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netcheck.lab import topology


@dataclass(frozen=True)
class Realm:
    name: str  # upper case, e.g. NCLAB.TEST
    workdir: Path
    kdc_ip: str
    kdc_port: int = 88

    @property
    def krb5_conf(self) -> Path:
        return self.workdir / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.workdir / "kdc.conf"

    @property
    def database(self) -> Path:
        return self.workdir / "principal"

    def keytab(self, host: str) -> Path:
        return self.workdir / f"HTTP-{host}.keytab"

    def ccache(self, user: str) -> Path:
        return self.workdir / f"cc-{user}"

    def env(self) -> dict[str, str]:
        """What every Kerberos program of the lab runs with (client, KDC, squid's helper)."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5RCACHETYPE": "none",  # squid's helper runs as proxy: no replay-cache files
        }

    def kdc_argv(self) -> list[str]:
        """The KDC in the foreground (``-n``), for a daemon runner or a test to start."""
        return ["krb5kdc", "-n", "-r", self.name]


def render_krb5_conf(realm: Realm, domain: str) -> str:
    kdc = f"{realm.kdc_ip}:{realm.kdc_port}"
    return (
        "[libdefaults]\n"
        f"    default_realm = {realm.name}\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    rdns = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    udp_preference_limit = 1\n"  # TCP: one less thing to go wrong in a namespace
        "[realms]\n"
        f"    {realm.name} = {{\n        kdc = {kdc}\n        admin_server = {kdc}\n    }}\n"
        "[domain_realm]\n"
        f"    .{domain} = {realm.name}\n"
        f"    {domain} = {realm.name}\n"
    )


def render_kdc_conf(realm: Realm) -> str:
    return (
        "[kdcdefaults]\n"
        f"    kdc_listen = {realm.kdc_ip}:{realm.kdc_port}\n"
        f"    kdc_tcp_listen = {realm.kdc_ip}:{realm.kdc_port}\n"
        "[realms]\n"
        f"    {realm.name} = {{\n"
        f"        database_name = {realm.database}\n"
        f"        key_stash_file = {realm.workdir / 'stash'}\n"
        f"        acl_file = {realm.workdir / 'kadm5.acl'}\n"
        "        supported_enctypes = aes256-cts-hmac-sha1-96:normal\n"
        "        max_life = 10h 0m 0s\n"
        "    }\n"
        "[logging]\n"
        f"    kdc = FILE:{realm.workdir / 'kdc.log'}\n"
    )


def _run(realm: Realm, argv: Sequence[str], stdin: str | None = None) -> str:
    env = " ".join(f"{k}={v}" for k, v in realm.env().items())
    return topology.run(["env", *env.split(), *argv], input_text=stdin)


def create(
    realm: Realm,
    domain: str,
    service_hosts: Sequence[str],
    users: dict[str, str],
) -> None:
    """Write the configs, create the database, add ``HTTP/<host>`` for every proxy host (its
    keytab readable by squid's user) and a principal per user (name -> password)."""
    realm.workdir.mkdir(parents=True, exist_ok=True)
    realm.workdir.chmod(0o755)
    realm.krb5_conf.write_text(render_krb5_conf(realm, domain))
    realm.kdc_conf.write_text(render_kdc_conf(realm))
    (realm.workdir / "kadm5.acl").write_text("")
    master = secrets.token_urlsafe(24)
    _run(realm, ["kdb5_util", "create", "-s", "-r", realm.name, "-P", master])
    proxy_user = pwd.getpwnam("proxy")
    for host in service_hosts:
        principal = f"HTTP/{host}@{realm.name}"
        _run(realm, ["kadmin.local", "-r", realm.name, "-q", f"addprinc -randkey {principal}"])
        keytab = realm.keytab(host)
        keytab.unlink(missing_ok=True)
        _run(realm, ["kadmin.local", "-r", realm.name, "-q", f"ktadd -k {keytab} {principal}"])
        os.chown(keytab, proxy_user.pw_uid, proxy_user.pw_gid)
        keytab.chmod(0o600)
    for user, password in users.items():
        # the password goes on stdin (prompted twice), never on a command line
        _run(
            realm,
            ["kadmin.local", "-r", realm.name, "-q", f"addprinc {user}@{realm.name}"],
            stdin=f"{password}\n{password}\n",
        )


def kinit_argv(realm: Realm, user: str) -> list[str]:
    """``kinit`` for ``user`` into its own ccache; feed the password on stdin."""
    return ["kinit", "-c", f"FILE:{realm.ccache(user)}", f"{user}@{realm.name}"]
