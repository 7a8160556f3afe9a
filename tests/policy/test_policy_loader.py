"""Policy files: the examples validate; every error names file, line and field; fuzzed files end
in InputError, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.errors import InputError
from netcheck.policy.loader import load_policy, load_policy_text, problems, resolve_network
from netcheck.policy.validate import validate_file
from tests.support.paths import ROOT

POLICIES = ROOT / "policies"
MINISTRY = POLICIES / "ministerio-ejemplo.yaml"
VALID = MINISTRY.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["ministerio-ejemplo.yaml", "open-agency.yaml", "lab.yaml"])
def test_examples_are_valid(name: str) -> None:
    assert validate_file(str(POLICIES / name)) == []


def test_networks_by_label_and_by_address() -> None:
    policy = load_policy(str(MINISTRY)).policy
    assert resolve_network(policy, "Comms-Office") == "comms"
    assert resolve_network(policy, "10.20.0.7") == "comms"
    assert resolve_network(policy, "fd00:99::1") == "vpn"
    assert resolve_network(policy, "10.30.0.1") is None


BROKEN = [
    ("default: block", "default: maybe", 9, "default", "'allow' or 'block'"),
    ("cidrs: [10.10.0.0/16]", "cidrs: [10.10.0.1/16]", 15, "networks[0].cidrs", "bad CIDR"),
    ("cidrs: [10.10.0.0/16]", "cidrs: [10.300.0.0/16]", 15, "networks[0].cidrs", "bad CIDR"),
    (
        "    networks: [comms]\n    action: allow\n    requires",
        "    networks: [comm]\n    action: allow\n    requires",
        54,
        "rules[1].networks[0]",
        "unknown network 'comm'",
    ),
    (
        "match: {functions: [media]}",
        "match: {functions: [medya]}",
        64,
        "rules[3].match.functions",
        "unknown function",
    ),
    (
        "match: {services: [youtube, tiktok]}",
        "match: {services: [youtube, tiktokk]}",
        78,
        "rules[6].match.services",
        "unknown service 'tiktokk'",
    ),
    (
        "    action: block\n  - id: mensajeria",
        "    action: block\n    colour: red\n  - id: mensajeria",
        80,
        "rules[6].colour",
        "unknown key 'colour'",
    ),
    ("organisation: Ministerio de Ejemplo\n", "", None, "organisation", "missing 'organisation'"),
]


@pytest.mark.parametrize(("old", "new", "line", "field", "message"), BROKEN)
def test_errors_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int | None, field: str, message: str
) -> None:
    assert old in VALID
    path = tmp_path / "p.yaml"
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    found = problems(str(path))
    assert found, "the broken file was accepted"
    error = found[0]
    assert error.file == str(path)
    assert error.field == field
    assert message in error.message
    if line is not None:
        assert error.line == line
    else:
        assert error.line is not None


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        VALID.replace("default: block", "default: nope").replace("[10.10.0.0/16]", "[nope]"),
        encoding="utf-8",
    )
    assert {e.field for e in problems(str(path))} == {"default", "networks[0].cidrs"}


def test_alias_bomb_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [*{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}, *{chr(96 + i)}]\n"  # noqa: E501
    with pytest.raises(InputError, match="more than"):
        load_policy_text(bomb, "bomb.yaml")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = VALID.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "indent", "dedent", "chars", "value", "swap"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = draw(
                st.sampled_from(
                    [
                        "",
                        "[]",
                        "{}",
                        "~",
                        "42",
                        "-1",
                        "true",
                        "!!binary aGk=",
                        "&x 1",
                        "*nope",
                        "[a, b",
                        "'\\x00'",
                        "1e999",
                        "2026-13-45",
                        "!!python/none",
                    ]
                )
            )
            lines[i] = f"{key}: {value}"
        else:
            pos = draw(st.integers(0, len(lines[i])))
            junk = draw(st.text(alphabet=":-[]{}&*!|>'\"#%@`\t\x00 \u00e9", max_size=3))
            lines[i] = lines[i][:pos] + junk + lines[i][pos:]
        if not lines:
            break
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_fuzzed_policies_end_in_input_error(text: str) -> None:
    error: InputError | None = None
    try:
        doc = load_policy_text(text, "fuzz.yaml")
    except InputError as exc:
        error = exc
    if error is not None:
        assert error.file == "fuzz.yaml"
        assert error.message
        return
    assert doc.policy.organisation
