"""E-mail: a multipart message (plain text and HTML) sent over SMTP with STARTTLS and AUTH.

In: the ``Smtp`` settings and password from the notify config, a recipient, and a payload
(subject, text, HTML, language) as queued in the outbox. Out: the message handed to the
server, or an exception (``smtplib.SMTPException``, ``OSError``, ``ssl.SSLError``) the outbox
turns into a retry.

The connection is upgraded with STARTTLS before AUTH (``tls: starttls``, port 587), or is TLS
from the start (``tls: implicit``, port 465); the server's certificate is checked against the
system's CAs or ``ca_bundle``. ``tls: none`` is for a local relay only, and the config loader
refuses it together with a user name.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from netcheck.notify.config import Smtp


def message(smtp: Smtp, to: str, payload: dict[str, str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = payload["subject"]
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    msg.set_content(payload["text"], charset="utf-8")
    msg.add_alternative(payload["html"], subtype="html", charset="utf-8")
    # after the content: set_content clears every Content-* header
    msg["Content-Language"] = payload["lang"]
    for part in msg.iter_parts():
        part["Content-Language"] = payload["lang"]
    return msg


def send(smtp: Smtp, password: str | None, to: str, payload: dict[str, str]) -> None:
    context = ssl.create_default_context(cafile=smtp.ca_bundle)
    msg = message(smtp, to, payload)
    client: smtplib.SMTP
    if smtp.tls == "implicit":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        client.ehlo()
        if smtp.tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.user is not None and password is not None:
            client.login(smtp.user, password)
        client.send_message(msg)


def lines_html(lang: str, title: str, intro: str, groups: list[list[str]]) -> str:
    """A small self-contained HTML body for alerts: no image, no external style."""
    items = "".join(
        "<li>" + "<br>".join(html.escape(s) for s in group) + "</li>\n" for group in groups
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"<p>{html.escape(intro)}</p>\n<ul>\n{items}</ul>\n</body></html>\n"
    )


def lines_text(title: str, intro: str, groups: list[list[str]]) -> str:
    body = "\n\n".join("- " + "\n  ".join(group) for group in groups)
    return f"{title}\n\n{intro}\n\n{body}\n"
