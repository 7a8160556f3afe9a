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
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from netcheck.errors import InputError
from netcheck.models import duration_seconds
from netcheck.policy.loader import _Data, _located  # the policy's located-YAML walk, reused
from netcheck.textfile import compose_yaml, read_text

Lang = Literal["es", "en"]
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
#: ``90s``, ``30m``, ``24h``, ``7d`` -> seconds (``ValueError`` otherwise)
seconds = duration_seconds


def _email_address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


#: the sender and every recipient: one check, one message
EmailAddress = Annotated[str, AfterValidator(_email_address)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Smtp(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    user: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    sender: EmailAddress = Field(alias="from")
    ca_bundle: str | None = None
    timeout: float = Field(30.0, gt=0, le=300)


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
    ca_bundle: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"not an http(s) URL: {value[:80]!r}")
        return value


class Schedule(_Strict):
    check_every: str = "60s"
    report_every: str | None = "24h"
    report_days: int = Field(7, ge=1, le=366)

    @field_validator("check_every", "report_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            seconds(value)
        return value


class Retry(_Strict):
    attempts: int = Field(8, ge=1, le=100)
    first: str = "10s"
    longest: str = "1h"

    @field_validator("first", "longest")
    @classmethod
    def _duration(cls, value: str) -> str:
        seconds(value)
        return value


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
            with open(smtp.password_file, encoding="utf-8") as fh:
                secret = fh.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read the password file: {exc.__class__.__name__}",
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
