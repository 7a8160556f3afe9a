"""The notify configuration: who receives what, and how to reach them. A YAML file.

In: a path. Out: ``NotifyConfig`` (SMTP server, e-mail recipients with their language, webhooks
with their kind, schedule, retry), or ``InputError`` naming the file, line and field of the
first problem (the CLI exits 2 and sends nothing).

    smtp:
      host: mail.agencia.gob
      port: 587
      tls: starttls            # starttls (default) | implicit (port 465) | none (no auth then)
      user: netcheck
      password_file: /etc/netcheck/smtp.password   # or password_env: NETCHECK_SMTP_PASSWORD
      from: netcheck@agencia.gob
    recipients:
      - {email: prensa@agencia.gob, lang: es}                  # report and alerts
      - {email: it@agencia.gob, lang: en, report: false}       # alerts only
    webhooks:
      - {url: https://hooks.slack.com/services/…, kind: slack, lang: es}
      - {url: https://prod-00.westeurope.logic.azure.com/…, kind: teams}
      - {url: https://siem.agencia.gob/netcheck, kind: json, report: true}
    schedule: {check_every: 60s, report_every: 24h, report_days: 7}
    retry: {attempts: 8, first: 10s, longest: 1h}

A password is never written in the YAML in clear: a ``password`` key is refused; the password
is read from ``password_file`` (its first line) or the environment variable ``password_env``
when the file is loaded, so a missing one stops here, not at the first delivery.
"""

from __future__ import annotations

import os
import re
import ssl
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from netcheck.errors import InputError
from netcheck.models import duration_seconds
from netcheck.netaddr import http_url_problem
from netcheck.policy.loader import _Data, _located  # the policy's located-YAML walk, reused
from netcheck.textfile import compose_yaml, read_text

Lang = Literal["es", "en"]
#: the longest password read from ``password_file`` (its first line)
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
#: ``90s``, ``30m``, ``24h``, ``7d`` -> seconds (``ValueError`` otherwise)
seconds = duration_seconds


def _ca_bundle(value: str | None) -> str | None:
    """A CA bundle named in the config loads now, not at the first delivery (where a typo
    would only show as failed attempts, retried until given up)."""
    if value is None:
        return None
    if not os.path.isfile(value):
        raise ValueError(f"no such file: {value[:120]!r}")
    try:
        ssl.create_default_context(cafile=value)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ValueError(f"not a PEM CA bundle: {value[:120]!r} ({exc})") from None
    return value


def _seconds(value: str | None, minimum: float) -> str | None:
    if value is not None and seconds(value) < minimum:
        raise ValueError(f"at least {minimum:g} s: {value!r}")
    return value


def _email_address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


#: the sender and every recipient: one check, one message
EmailAddress = Annotated[str, AfterValidator(_email_address)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Smtp(_Strict):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    user: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    sender: EmailAddress = Field(alias="from")
    ca_bundle: Annotated[str | None, AfterValidator(_ca_bundle)] = None
    timeout: float = Field(30.0, gt=0, le=300)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() or not c.isprintable() for c in value) or value.startswith("-"):
            raise ValueError(f"not a host name or address: {value[:80]!r}")
        return value


class Recipient(_Strict):
    email: EmailAddress
    lang: Lang = "es"
    report: bool = True
    alerts: bool = True


class Webhook(_Strict):
    url: str
    kind: Literal["json", "slack", "teams"]
    lang: Lang = "es"
    report: bool = False
    alerts: bool = True
    ca_bundle: Annotated[str | None, AfterValidator(_ca_bundle)] = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = http_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Schedule(_Strict):
    check_every: str = "60s"
    report_every: str | None = "24h"
    report_days: int = Field(7, ge=1, le=366)

    @field_validator("check_every", "report_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        # 0s would make the collector's notifier loop without pause
        return _seconds(value, 1)


class Retry(_Strict):
    attempts: int = Field(8, ge=1, le=100)
    first: str = "10s"
    longest: str = "1h"

    @field_validator("first", "longest")
    @classmethod
    def _duration(cls, value: str) -> str:
        _seconds(value, 1)
        return value

    @model_validator(mode="after")
    def _order(self) -> Retry:
        if seconds(self.longest) < seconds(self.first):
            raise ValueError(f"longest ({self.longest}) is shorter than first ({self.first})")
        return self


class NotifyConfig(_Strict):
    smtp: Smtp | None = None
    recipients: list[Recipient] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)
    schedule: Schedule = Field(default_factory=Schedule)
    retry: Retry = Field(default_factory=Retry)
    #: filled from password_file / password_env at load time; never read from the YAML
    smtp_password: str | None = Field(None, exclude=True)
    file: str = Field("", exclude=True)


def load_config(path: str) -> NotifyConfig:
    text = read_text(path, "notify config")
    root = compose_yaml(text, path)
    if root is None:
        raise InputError("the notify config is empty", file=path)
    lines: dict[tuple[str | int, ...], int] = {}
    data = _Data(path, lines).convert(root, (), 0)
    if not isinstance(data, dict):
        raise InputError("expected a mapping at the top", file=path, line=1)
    for banned in ("smtp_password", "file"):
        if banned in data:
            raise InputError(
                f"unknown key {banned!r}", file=path, line=lines[(banned,)], field=banned
            )
    smtp = data.get("smtp")
    if isinstance(smtp, dict) and "password" in smtp:
        raise InputError(
            "no password in the YAML in clear: use password_file or password_env",
            file=path,
            line=lines[("smtp", "password")],
            field="smtp.password",
        )
    try:
        config = NotifyConfig.model_validate(data)
    except ValidationError as exc:
        raise _located(exc.errors()[0], path, lines) from None
    return config.model_copy(update={"smtp_password": _password(config, path, lines), "file": path})


def _password(
    config: NotifyConfig, path: str, lines: dict[tuple[str | int, ...], int]
) -> str | None:
    smtp = config.smtp
    if smtp is None:
        if not config.recipients:
            return None
        raise InputError(
            "recipients need an smtp server",
            file=path,
            line=lines.get(("recipients",)),
            field="smtp",
        )
    if smtp.password_file and smtp.password_env:
        raise InputError(
            "give password_file or password_env, not both",
            file=path,
            line=lines.get(("smtp", "password_env")),
            field="smtp.password_env",
        )
    if smtp.user is None:
        return None
    if smtp.tls == "none":
        raise InputError(
            "authentication over a connection without TLS would send the "
            "password in clear; use tls: starttls or implicit",
            file=path,
            line=lines.get(("smtp", "tls")),
            field="smtp.tls",
        )
    if smtp.password_file:
        try:
            if not os.path.isfile(smtp.password_file):  # a FIFO or /dev/zero never ends
                raise FileNotFoundError("not a regular file")
            with open(smtp.password_file, encoding="utf-8") as fh:
                secret = fh.readline(MAX_PASSWORD + 1).rstrip("\r\n")
            if len(secret) > MAX_PASSWORD or not secret.isprintable():
                raise ValueError("not one line of at most 1024 printable characters")
        except (OSError, ValueError) as exc:
            # never the text of the exception for a decoding error: it could quote the password
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc)
            if isinstance(exc, OSError) and exc.strerror:
                why = exc.strerror
            raise InputError(
                f"cannot read the password file: {why}",
                file=path,
                line=lines.get(("smtp", "password_file")),
                field="smtp.password_file",
            ) from None
    elif smtp.password_env:
        secret = os.environ.get(smtp.password_env, "")
        if not secret:
            raise InputError(
                f"the environment variable {smtp.password_env} is not set",
                file=path,
                line=lines.get(("smtp", "password_env")),
                field="smtp.password_env",
            )
    else:
        raise InputError(
            "smtp.user needs password_file or password_env",
            file=path,
            line=lines.get(("smtp", "user")),
            field="smtp.user",
        )
    if not secret:
        raise InputError(
            "the password file is empty",
            file=path,
            line=lines.get(("smtp", "password_file")),
            field="smtp.password_file",
        )
    return secret
