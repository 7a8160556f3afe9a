"""Hostile policies and configs end within seconds, in one ``file:line`` error or an answer.

Each case found by the audit of issue 12: a PAC that answers each question just inside its
deadline, configs and policies big enough to keep ``import``, ``validate`` or ``check`` busy for
tens of seconds, numbers no measurement compares with, and an ``explain`` option that was not
checked. Every refusal is exit 2 with one line naming the file, the line and the field, and the
files given are left as they were.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.policy.decide import decide_url, request_for_url, rule_matches
from netcheck.policy.importers import MAX_CANDIDATES
from netcheck.policy.importers.pac import BUDGET
from netcheck.policy.loader import MAX_NODES, MAX_PATTERNS, load_policy_text
from netcheck.policy.match import HostSet, host_matches

runner = CliRunner()
HEAD = "organisation: Lab\nversion: 1\ndate: 2025-01-01\ndefault: allow\n"


def _one_error(args: list[str], *files: Path) -> str:
    before = {f: f.read_bytes() for f in files}
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert "Traceback" not in out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert {f: f.read_bytes() for f in files} == before
    return lines[0]


def test_a_pac_slow_on_every_answer_is_stopped_by_its_budget(tmp_path: Path) -> None:
    # 1.5 s per answer is inside the per-call deadline; 43 catalogue hosts took 66 s before
    pac = tmp_path / "slow.pac"
    pac.write_text(
        "function FindProxyForURL(url, host) {\n"
        "  var t = Date.now(); while (Date.now() - t < 1500) {}\n  return 'DIRECT';\n}\n"
    )
    started = time.monotonic()
    line = _one_error(["policy", "import", "pac", str(pac)], pac)
    assert time.monotonic() - started < BUDGET + 3
    assert line.startswith(f"netcheck: error: {pac}: ")
    assert f"{BUDGET:g} s" in line


@pytest.mark.parametrize(
    ("fmt", "text", "line", "says"),
    [
        (  # one rule per line: refused where the rules to convert pass MAX_CANDIDATES
            "hosts",
            "".join(f"0.0.0.0 d{i}.example.com\n" for i in range(MAX_CANDIDATES + 5)),
            MAX_CANDIDATES + 1,
            "more than ",
        ),
        (  # one rule of more hosts than the loader reads values
            "squid",
            "acl big dstdomain "
            + " ".join(f".d{i}.com" for i in range(MAX_NODES + 1))
            + "\nhttp_access deny big\nhttp_access allow all\n",
            2,
            f"more than {MAX_NODES} hosts",
        ),
    ],
)
def test_an_import_bigger_than_a_policy_is_refused_quickly_at_its_line(
    tmp_path: Path, fmt: str, text: str, line: int, says: str
) -> None:
    config = tmp_path / "config"
    config.write_text(text)
    started = time.monotonic()
    error = _one_error(["policy", "import", fmt, str(config)], config)
    assert time.monotonic() - started < 5
    assert error.startswith(f"netcheck: error: {config}:{line}: {says}")


def test_too_many_patterns_are_refused_at_the_first_one_past_the_cap(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    patterns = ", ".join(f"a{i}" for i in range(MAX_PATTERNS + 1))
    policy.write_text(
        HEAD + f"rules:\n  - id: r\n    match:\n      url_regex: [{patterns}]\n    action: block\n"
    )
    line = _one_error(["policy", "explain", str(policy), "https://x.com/"], policy)
    assert line.startswith(
        f"netcheck: error: {policy}:8: rules[0].match.url_regex[{MAX_PATTERNS}]: more than"
    )


def test_numbers_that_are_not_finite_are_refused_at_their_field(tmp_path: Path) -> None:
    for value in (".inf", ".nan", "1e400", "'nan'", "-.inf"):
        policy = tmp_path / "policy.yaml"
        policy.write_text(
            HEAD + "rules:\n  - id: r\n    match: {all: true}\n    action: allow\n"
            f"    requires: {{min_download_mbps: {value}}}\n"
        )
        line = _one_error(["policy", "explain", str(policy), "https://x.com/"], policy)
        assert line == (
            f"netcheck: error: {policy}:9: rules[0].requires.min_download_mbps: "
            "Input should be a finite number"
        )


def test_a_number_of_too_many_digits_is_said_in_words(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        HEAD + "rules:\n  - id: r\n    match: {all: true}\n    action: allow\n"
        f"    requires: {{min_download_mbps: {'9' * 5000}}}\n"
    )
    line = _one_error(["policy", "explain", str(policy), "https://x.com/"], policy)
    assert line.endswith(":9: rules[0].requires.min_download_mbps: a number with too many digits")


def test_explain_refuses_an_unknown_service_as_it_does_a_function(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD)
    line = _one_error(
        ["policy", "explain", str(policy), "https://x.com/", "--service", "nosuch"], policy
    )
    assert line.startswith("netcheck: error: --service: unknown service 'nosuch'; known: ")


def test_a_host_set_matches_as_its_patterns_one_by_one() -> None:
    patterns = ["a.com", ".b.com", "*.c.com", "x?.com", "[de].org", "*"]
    hosts = ["a.com", "x.a.com", "b.com", "y.b.com", "c.com", "z.c.com", "xy.com", "d.org", ""]
    for n in range(len(patterns)):
        for host in hosts:
            want = any(host_matches(p, host) for p in patterns[:n])
            assert HostSet(patterns[:n]).matches(host) == want, (patterns[:n], host)


def test_deciding_with_thousands_of_host_rules_keeps_policy_order() -> None:
    rules = "".join(
        f"  - {{id: r{i}, match: {{hosts: [.d{i}.com]}}, action: block}}\n" for i in range(5000)
    )
    text = HEAD + "rules:\n  - {id: first, match: {hosts: [x.d4999.com]}, action: allow}\n" + rules
    text += "  - {id: glob, match: {hosts: ['*.org']}, action: block}\n"
    doc = load_policy_text(text, "p.yaml")
    assert decide_url(doc, "https://x.d4999.com/").rule == "first"
    assert decide_url(doc, "https://y.d4999.com/").rule == "r4999"
    assert decide_url(doc, "https://a.org/").rule == "glob"
    assert decide_url(doc, "https://a.net/").rule is None
    started = time.monotonic()
    for i in range(2000):
        decide_url(doc, f"https://h{i}.example.net/")
    assert time.monotonic() - started < 2
    assert not rule_matches(doc.policy.rules[1].match, request_for_url("https://d0.org/"))
