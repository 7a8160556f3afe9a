"""The files a notify config names, and its durations, checked when the config loads.

A password file that never ends (``/dev/zero``, a FIFO) must not hang or eat memory; a CA
bundle or a webhook address that cannot work must stop the load (exit 2, file, line, field)
rather than show up later as deliveries retried until given up; a check every 0 s would spin.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netcheck.errors import InputError
from netcheck.notify.config import load_config

SMTP = "smtp: {{host: mail.example, from: a@example.org, user: u, password_file: {pw}}}\n"


def load(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_config(str(path))
    assert caught.value.file == str(path)
    return caught.value


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "nul", "long"])
def test_a_password_file_that_is_not_one_line_of_text_is_refused_at_once(
    tmp_path: Path, kind: str
) -> None:
    pw = tmp_path / "pw"
    if kind == "fifo":
        os.mkfifo(pw)  # opening it would wait for a writer for ever
    elif kind == "device":
        pw = Path("/dev/zero")  # readline() would never find the end of the line
    elif kind == "folder":
        pw.mkdir()
    elif kind == "nul":
        pw.write_bytes(b"pass\x00word\n")
    else:
        pw.write_text("x" * 100_000)
    error = load(tmp_path, SMTP.format(pw=pw))
    assert error.line == 1
    assert error.field == "smtp.password_file"


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            "smtp: {host: m.example, from: a@example.org, ca_bundle: /nonexistent/ca.pem}\n",
            1,
            "smtp.ca_bundle",
            "no such file",
        ),
        (
            "webhooks:\n  - {url: 'https://h.example/', kind: json, ca_bundle: /etc/hostname}\n",
            2,
            "webhooks[0].ca_bundle",
            "not a PEM CA bundle",
        ),
        ("webhooks:\n  - {url: 'http://[::1', kind: json}\n", 2, "webhooks[0].url", "IPv6"),
        (
            "webhooks:\n  - {url: 'http://h.example:99999/', kind: json}\n",
            2,
            "webhooks[0].url",
            "Port out of range",
        ),
        ("webhooks:\n  - {url: 'http://a b/', kind: json}\n", 2, "webhooks[0].url", "host"),
        ("schedule: {check_every: 0s}\n", 1, "schedule.check_every", "at least 1 s"),
        ("retry: {first: 1h, longest: 1s}\n", 1, "retry", "shorter than first"),
        (
            'smtp: {host: "m\\x00", from: a@example.org}\n',
            1,
            "smtp.host",
            "not a host name",
        ),
    ],
)
def test_what_would_only_fail_at_delivery_fails_at_load(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    error = load(tmp_path, text)
    assert error.line == line
    assert error.field == field
    assert words in error.message
