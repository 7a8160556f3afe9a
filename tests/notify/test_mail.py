"""The comms report and change alerts by e-mail, through ``netcheck notify``, to a real SMTP
server on loopback (aiosmtpd) that requires STARTTLS (a trustme certificate) and then AUTH;
each message is checked as received: headers, both parts, the recipient's language. A wrong
password is a delivery failure that waits in the outbox, not a crash, and nothing is sent twice.
"""

from __future__ import annotations

import email
import email.policy
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.support import Collector, free_port
from tests.server.fleet import CHANNEL, POLICY, fill
from tests.support.paths import ROOT

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
trustme = pytest.importorskip("trustme")

USER, PASSWORD = "netcheck", "s3cret smtp pass"
CONFIG = """\
smtp:
  host: 127.0.0.1
  port: {port}
  user: {user}
  password_file: {password_file}
  from: netcheck@agencia.example
  ca_bundle: {ca}
recipients:
  - {{email: prensa@agencia.example, lang: es}}
  - {{email: it@agencia.example, lang: en, report: false}}
retry: {{attempts: 5, first: 1s, longest: 1s}}
"""


@dataclass
class Inbox:
    received: list[tuple[Any, bool, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((message, session.ssl is not None, session.authenticated))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inbox, int, Path]]:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=good, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = aiosmtpd.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    yield inbox, port, bundle
    controller.stop()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    c = Collector(tmp_path_factory.mktemp("mail") / "data").start()
    try:
        fill(c)
        yield c
    finally:
        c.stop()


def notify(c: Collector, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "notify",
            "--data",
            str(c.data),
            "--config",
            str(config),
            "--policy",
            str(POLICY),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def config_file(tmp: Path, port: int, ca: Path, password: str) -> Path:
    secret = tmp / f"smtp-{len(password)}.password"
    secret.write_text(password + "\n")
    path = tmp / f"notify-{len(password)}.yaml"
    path.write_text(CONFIG.format(port=port, user=USER, password_file=secret, ca=ca))
    return path


def parts(message: Any) -> tuple[str, str]:
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return plain, html


def test_alerts_and_report_by_mail_in_each_recipients_language(
    smtp: tuple[Inbox, int, Path], collector: Collector, tmp_path: Path
) -> None:
    inbox, port, ca = smtp
    done = notify(collector, config_file(tmp_path, port, ca, PASSWORD), "--report")
    assert done.returncode == 0, done.stderr
    assert "sent 3" in done.stderr
    assert len(inbox.received) == 3
    for _, over_tls, authenticated in inbox.received:
        assert over_tls
        assert authenticated
    by = {(m["To"], m["Subject"]): m for m, _, _ in inbox.received}
    es_alert = by[("prensa@agencia.example", "netcheck: 4 cambios de acceso")]
    en_alert = by[("it@agencia.example", "netcheck: 4 access changes")]
    report = by[("prensa@agencia.example", "netcheck: informe de acceso a los canales oficiales")]
    for message, lang in ((es_alert, "es"), (en_alert, "en"), (report, "es")):
        assert message["From"] == "netcheck@agencia.example"
        assert message["Content-Language"] == lang
        assert message["Message-ID"]
        assert message["Date"]
        assert message.get_content_type() == "multipart/alternative"
    plain, html = parts(es_alert)
    assert f"BLOQUEADO: el canal oficial {CHANNEL} no funciona desde la red «VPN»" in plain
    assert "el servidor DNS de la red responde que el dominio no existe" in plain
    assert '<html lang="es">' in html
    assert "BLOQUEADO" in html
    plain, html = parts(en_alert)
    assert f"BLOCKED: the official channel {CHANNEL} does not work from the “VPN” network" in plain
    assert "BLOQUEADO" not in plain + html
    plain, html = parts(report)
    assert "Acceso a los canales oficiales" in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert CHANNEL in plain
    # the same states again: nothing is announced twice, the report is not due for 24 h
    again = notify(collector, config_file(tmp_path, port, ca, PASSWORD))
    assert again.returncode == 0, again.stderr
    assert "0 change(s)" in again.stderr
    assert len(inbox.received) == 3


def test_a_refused_login_waits_in_the_outbox_and_goes_later(
    smtp: tuple[Inbox, int, Path], collector: Collector, tmp_path: Path
) -> None:
    inbox, port, ca = smtp
    before = len(inbox.received)
    from tests.server.fleet import Probe, measurement

    probe = Probe(collector, "vpn")  # a new probe on the VPN: the channel works again
    ok = ("accessible", None, None)
    probe.send([measurement(CHANNEL, "vpn", "2026-11-30T09:00:00.000Z", ok)])
    wrong = notify(collector, config_file(tmp_path, port, ca, "not the password"), "--no-report")
    assert wrong.returncode == 0, wrong.stderr  # a delivery failure is not an input error
    assert "1 change(s)" in wrong.stderr
    assert "failed 2" in wrong.stderr
    assert len(inbox.received) == before
    with sqlite3.connect(collector.data / "collector.sqlite3") as db:
        errors = [e for (e,) in db.execute("SELECT last_error FROM outbox WHERE sent_at IS NULL")]
    assert len(errors) == 2
    assert all("SMTPAuthenticationError" in e for e in errors)
    import time

    time.sleep(1.3)  # the retry's backoff (first: 1s)
    right = notify(collector, config_file(tmp_path, port, ca, PASSWORD), "--no-report")
    assert right.returncode == 0, right.stderr
    assert "0 change(s)" in right.stderr
    assert "sent 2" in right.stderr
    new = [m for m, _, _ in inbox.received[before:]]
    assert sorted(m["Subject"] for m in new) == [
        "netcheck: 1 access change",
        "netcheck: 1 cambio de acceso",
    ]
    assert "DESBLOQUEADO" in parts(next(m for m in new if m["Content-Language"] == "es"))[0]
