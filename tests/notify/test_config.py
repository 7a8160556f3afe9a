"""The notify config: what loads, and every refusal naming file, line and field (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.notify.config import load_config

GOOD = """\
smtp:
  host: mail.agencia.example
  user: netcheck
  password_env: NETCHECK_TEST_SMTP
  from: netcheck@agencia.example
recipients:
  - {email: prensa@agencia.example, lang: es}
webhooks:
  - {url: "https://hooks.example/T1", kind: slack}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    return str(path)


def test_a_good_config_loads_with_its_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETCHECK_TEST_SMTP", "from the environment")
    config = load_config(write(tmp_path, GOOD))
    assert config.smtp is not None
    assert config.smtp.port == 587
    assert config.smtp.tls == "starttls"
    assert config.smtp_password == "from the environment"
    assert config.recipients[0].report
    assert config.webhooks[0].kind == "slack"
    assert "from the environment" not in config.model_dump_json()


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            GOOD.replace("  password_env: NETCHECK_TEST_SMTP", "  password: hunter22"),
            4,
            "smtp.password",
            "no password in the YAML",
        ),
        (GOOD.replace("kind: slack", "kind: discord"), 9, "webhooks[0].kind", "slack"),
        (
            GOOD.replace("prensa@agencia.example", "prensa"),
            7,
            "recipients[0].email",
            "not an e-mail",
        ),
        (
            GOOD.replace("  user: netcheck", "  user: netcheck\n  colour: blue"),
            4,
            "smtp.colour",
            "unknown key",
        ),
        (
            GOOD.replace("NETCHECK_TEST_SMTP", "NETCHECK_UNSET_VAR"),
            4,
            "smtp.password_env",
            "not set",
        ),
        (
            GOOD.replace("  user: netcheck", "  user: netcheck\n  tls: none"),
            4,
            "smtp.tls",
            "in clear",
        ),
        (GOOD.replace('"https://hooks.example/T1"', "ftp://x"), 9, "webhooks[0].url", "http"),
        ("recipients:\n  - {email: a@b.example}\n", 1, "smtp", "smtp server"),
        ("schedule: {check_every: soon}\n", 1, "schedule.check_every", "duration"),
        ("smtp: [\n", 1, None, "invalid YAML"),
    ],
)
def test_refusals_name_file_line_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    line: int,
    field: str | None,
    words: str,
) -> None:
    monkeypatch.setenv("NETCHECK_TEST_SMTP", "x")
    monkeypatch.delenv("NETCHECK_UNSET_VAR", raising=False)
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.file == path
    assert caught.value.line == line
    assert caught.value.field == field
    assert words in caught.value.message


def test_the_cli_exits_2_on_a_bad_config_and_creates_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("kind: slack", "kind: discord"))
    runner = CliRunner()
    data = tmp_path / "data"
    for args in (
        ["notify", "--data", str(data), "--config", bad],
        ["server", "serve", "--data", str(data), "--bind", "127.0.0.1:0", "--notify", bad],
    ):
        done = runner.invoke(app, args)
        assert done.exit_code == 2, done.output
        assert f"{bad}:9: webhooks[0].kind:" in done.output
    assert not data.exists()
