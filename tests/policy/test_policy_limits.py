"""The policy reader holds up against hostile files, and user regexes run in linear time.

Every bad file is an ``InputError`` naming the file and, where there is one, the line and the
field; nothing here may end in a traceback, a ``RecursionError`` or a wait.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netcheck.cli import app
from netcheck.errors import InputError
from netcheck.policy.decide import decide_url
from netcheck.policy.loader import (
    MAX_DEPTH,
    MAX_FIELD_CHARS,
    MAX_RULES,
    load_policy,
    load_policy_text,
    problems,
)
from netcheck.policy.regex import RegexProblem, compile_regex

HEAD = "organisation: Lab\nversion: 1\ndate: 2025-01-01\ndefault: allow\n"


def _load_error(tmp_path: Path, data: bytes | str) -> InputError:
    path = tmp_path / "policy.yaml"
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    with pytest.raises(InputError) as info:
        load_policy(str(path))
    assert info.value.file == str(path)
    # validate reports the same problem instead of raising it
    assert [str(p) for p in problems(str(path))][:1] == [str(info.value)]
    return info.value


def test_deep_flow_nesting_is_refused_at_its_line(tmp_path: Path) -> None:
    error = _load_error(tmp_path, HEAD + "description: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert error.line == 5
    assert "nested" in error.message


def test_deep_block_nesting_is_refused_at_its_line(tmp_path: Path) -> None:
    lines = [f"{'  ' * i}k{i}:" for i in range(MAX_DEPTH + 10)]
    error = _load_error(tmp_path, HEAD + "description:\n" + "\n".join("  " + x for x in lines))
    assert error.line is not None
    assert 5 < error.line <= 5 + MAX_DEPTH + 10
    assert "nested" in error.message


def test_a_self_referencing_alias_ends_in_an_input_error(tmp_path: Path) -> None:
    error = _load_error(tmp_path, HEAD + "description: &a [*a]\n")
    assert error.line == 5


def test_an_alias_bomb_is_cut_by_the_value_count(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    error = _load_error(tmp_path, "\n".join(lines) + "\n")
    assert "values" in error.message


def test_a_huge_field_names_its_line_and_field(tmp_path: Path) -> None:
    text = HEAD + "rules:\n  - id: r1\n    action: block\n    match:\n      hosts:\n"
    text += "        - " + "a" * (MAX_FIELD_CHARS + 1) + ".com\n"
    error = _load_error(tmp_path, text)
    assert (error.line, error.field) == (10, "rules[0].match.hosts[0]")


def test_binary_and_non_utf8_files_are_refused_at_the_line(tmp_path: Path) -> None:
    error = _load_error(tmp_path, HEAD.encode() + b"description: a\x00b\n")
    assert (error.line, "NUL" in error.message) == (5, True)
    error = _load_error(tmp_path, HEAD.encode() + b"description: caf\xe9\n")
    assert (error.line, "UTF-8" in error.message) == (5, True)


@pytest.mark.parametrize("text", ["", "\n\n   \n", "# only a comment\n", "---\n"])
def test_an_empty_policy_says_so(tmp_path: Path, text: str) -> None:
    assert "empty" in _load_error(tmp_path, text).message


def test_more_rules_than_a_policy_holds(tmp_path: Path) -> None:
    rules = "".join(
        f"  - {{id: r{i}, action: block, match: {{hosts: [h{i}.example]}}}}\n"
        for i in range(MAX_RULES + 1)
    )
    error = _load_error(tmp_path, HEAD + "rules:\n" + rules)
    assert (error.line, error.field) == (6 + MAX_RULES, f"rules[{MAX_RULES}]")


# --- user regexes ---------------------------------------------------------------------------


def _policy_with(regex: str) -> str:
    return (
        HEAD + f"rules:\n  - id: r1\n    action: block\n    match:\n      url_regex: ['{regex}']\n"
    )


@pytest.mark.timeout(60)
def test_a_catastrophic_url_regex_decides_promptly() -> None:
    # with re's backtracking this pattern on this URL would take longer than the universe has
    doc = load_policy_text(_policy_with("^https://a.com/(a+)+$"), "policy.yaml")
    url = "https://a.com/" + "a" * 100_000 + "!"
    assert decide_url(doc, url).rule is None  # no match: the default decides
    assert decide_url(doc, "https://a.com/aaaa").rule == "r1"


@pytest.mark.timeout(60)
def test_policy_explain_with_a_catastrophic_regex_returns(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(_policy_with("^https://a.com/(a+)+$"))
    url = "https://a.com/" + "a" * 2000 + "!"  # explain takes URLs up to 2048 characters
    result = CliRunner().invoke(app, ["policy", "explain", str(path), url, "--json"])
    assert result.exit_code == 0, result.output
    assert '"decision": "allow"' in result.stdout


@pytest.mark.parametrize(
    ("regex", "why"),
    [
        (r"^https://(a)\1", "backreference"),
        ("^https://(?=a)", "lookaround"),
        ("^https://x.com/(?<!a)b", "lookaround"),
    ],
)
def test_a_regex_re2_cannot_run_is_an_input_error_at_its_line(
    tmp_path: Path, regex: str, why: str
) -> None:
    error = _load_error(tmp_path, _policy_with(regex))
    assert (error.line, error.field) == (9, "rules[0].match.url_regex[0]")
    assert "RE2 cannot run" in error.message
    assert why in error.message


def test_a_broken_regex_is_called_broken(tmp_path: Path) -> None:
    error = _load_error(tmp_path, _policy_with("^https://(a"))
    assert error.message.startswith("bad regular expression")


def test_regex_case_and_unicode() -> None:
    assert compile_regex("youtube", ignore_case=True).search("WWW.YOUTUBE.COM")
    assert not compile_regex("youtube").search("WWW.YOUTUBE.COM")
    assert compile_regex("^https://ñ").search("https://ñandú.example/")
    # an undecodable argv byte arrives as a lone surrogate: matched, not a crash
    assert compile_regex("x.com/").search("https://x.com/\udcff")
    with pytest.raises(RegexProblem):
        compile_regex("a\x00b")
