"""The policy's own validation (``netcheck.policy.shape``): plain data checked into the model's
dataclasses, every problem at once with its path, and a JSON schema the examples satisfy.

Pure tests: no file but the example policies.
"""

from __future__ import annotations

import datetime
import json

import jsonschema
import pytest

from netcheck.policy.loader import load_policy
from netcheck.policy.model import Match, Policy, Requirements, Rule
from netcheck.policy.shape import Invalid, build, dump
from tests.support.paths import ROOT

EXAMPLES = sorted((ROOT / "policies").glob("*.yaml"))
HEAD = {"organisation": "o", "version": "1", "date": "2026-01-01", "default": "allow"}


def problems(cls: type, data: object) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(Invalid) as info:
        build(cls, data)
    return info.value.problems


def test_every_problem_is_reported_at_its_path_in_field_order() -> None:
    data = {
        **HEAD,
        "date": "someday",
        "default": "maybe",
        "colour": "red",
        "rules": [
            {"id": "ok", "action": "allow", "match": {"all": True}},
            {
                "id": "bad id!",
                "action": "block",
                "match": {"hosts": ["a b"], "url_regex": ["^ok", "(a"], "functions": ["x"]},
                "requires": {"min_download_mbps": 0},
            },
            {"action": "allow", "match": "everything"},
        ],
    }
    found = problems(Policy, data)
    assert [loc for loc, _ in found] == [
        ("date",),
        ("default",),
        ("rules", 1, "id"),
        ("rules", 1, "match", "functions"),
        ("rules", 1, "match", "hosts"),
        ("rules", 1, "match", "url_regex", 1),
        ("rules", 1, "requires", "min_download_mbps"),
        ("rules", 2, "id"),
        ("rules", 2, "match"),
        ("colour",),
    ]
    messages = dict(found)
    assert messages[("default",)] == "Input should be 'allow' or 'block'"
    assert messages[("rules", 2, "id")] == "missing 'id'"
    assert messages[("colour",)] == "unknown key 'colour'"
    assert messages[("rules", 2, "match")] == (
        "Input should be a valid dictionary or instance of Match"
    )
    assert messages[("rules", 1, "requires", "min_download_mbps")] == (
        "Input should be greater than 0"
    )
    assert messages[("rules", 1, "match", "url_regex", 1)].startswith("bad regular expression")


def test_the_whole_is_checked_only_once_its_parts_pass() -> None:
    # a bad function and nothing else: the function is named, not "needs at least one criterion"
    [(loc, message)] = problems(Match, {"functions": ["nosuch"]})
    assert loc == ("functions",)
    assert message.startswith("unknown function 'nosuch'; known: view,")
    assert problems(Match, {}) == [((), "a match needs at least one criterion (or 'all: true')")]
    assert problems(Match, {"all": True, "hosts": ["a.com"]}) == [
        ((), "'all: true' cannot be combined with hosts")
    ]


def test_yaml_values_are_read_as_pydantic_lax_mode_reads_them() -> None:
    policy = build(
        Policy,
        {
            **HEAD,
            "version": 2.1,  # an unquoted version number is text
            "date": datetime.datetime(2026, 1, 1),  # noqa: DTZ001 - YAML's timestamp at midnight
            "rules": [
                {
                    "id": "r",
                    "action": "allow",
                    "match": {"all": "yes", "hosts": []},
                    "requires": {"min_download_mbps": "2.5", "max_rtt_ms": 80},
                }
            ],
        },
    )
    assert (policy.version, policy.date) == ("2.1", datetime.date(2026, 1, 1))
    rule = policy.rules[0]
    assert rule.match.all is True
    assert rule.requires == Requirements(min_download_mbps=2.5, max_rtt_ms=80.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("organisation", b"bytes", "Input should be a valid string"),
        ("organisation", 42, "Input should be a valid string"),
        ("date", datetime.datetime(2026, 1, 1, 9), "should have zero time"),  # noqa: DTZ001
        ("date", "2026-13-01", "Input should be a valid date"),
        ("networks", {"id": "a"}, "Input should be a valid list"),
    ],
)
def test_values_of_the_wrong_kind_are_refused(field: str, value: object, message: str) -> None:
    [(loc, found)] = problems(Policy, {**HEAD, field: value})
    assert loc == (field,)
    assert message in found


def test_numbers_refuse_booleans_and_words() -> None:
    assert problems(Requirements, {"max_rtt_ms": True}) == [
        (("max_rtt_ms",), "Input should be a valid number")
    ]
    assert problems(Requirements, {"max_rtt_ms": "fast"}) == [
        (("max_rtt_ms",), "Input should be a valid number, unable to parse string as a number")
    ]


def test_checks_normalise_what_they_keep() -> None:
    rule = build(Rule, {"id": "r", "action": "block", "match": {"hosts": ["WWW.Example.COM."]}})
    assert rule.match.hosts == ["www.example.com"]
    other = build(Rule, {"id": "s", "action": "allow", "match": {"all": 1}})
    assert other.match.all is True
    assert rule.networks == other.networks == []
    assert rule.networks is not other.networks  # each rule has a default list of its own


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_satisfy_the_committed_schema_and_dump_back(path: object) -> None:
    policy = load_policy(str(path)).policy
    data = dump(policy)
    schema = json.loads((ROOT / "netcheck" / "policy" / "schema.json").read_text())
    jsonschema.validate(data, schema)
    assert build(Policy, data) == policy
    lean = dump(policy, exclude_defaults=True)
    assert all(v not in (None, [], False) for rule in lean["rules"] for v in rule.values())
    assert build(Policy, lean) == policy


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    schema = json.loads((ROOT / "netcheck" / "policy" / "schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**HEAD, "colour": "red"}, schema)
    rule = {"id": "r", "action": "allow", "match": {"all": True}, "requires": {"max_rtt_ms": 0}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**HEAD, "rules": [rule]}, schema)
