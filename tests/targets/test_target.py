"""``netcheck.target``: the target as a plain dataclass, and as pydantic reads it in a record.

Pure tests: no network.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from netcheck.models import Result
from netcheck.target import Expect, Target
from tests.support.paths import TESTS

GOLDEN = TESTS / "golden" / "accessible_https.json"


def test_a_target_round_trips_through_its_json() -> None:
    target = Target(
        url="https://www.example.com/",
        service="example",
        function="view",
        expect=Expect(title_contains=["Example"]),
    )
    assert Target.from_json(target.as_json()) == target
    assert target.as_json(exclude_defaults=True) == {
        "url": "https://www.example.com/",
        "service": "example",
        "function": "view",
        "expect": {"title_contains": ["Example"]},
    }
    with pytest.raises(TypeError):
        Target.from_json({**target.as_json(), "colour": "red"})


def _record() -> dict[str, object]:
    gold = json.loads(GOLDEN.read_text())
    return {
        "id": "r1",
        "probe": {"id": "p", "software_version": "0", "started_at": "2026-01-01T00:00:00Z"},
        "target": gold["target"],
        "measured_at": "2026-01-01T00:00:00Z",
        "verdict": "accessible",
        "evidence": "loaded",
        "steps": gold["steps"],
    }


def test_a_record_carries_the_dataclass_and_dumps_it_as_before() -> None:
    data = _record()
    result = Result.model_validate(data)
    assert isinstance(result.target, Target)
    assert isinstance(result.target.expect, Expect)
    assert result.model_dump(mode="json")["target"] == result.target.as_json()
    assert Result.model_validate_json(result.model_dump_json()) == result


def test_a_record_with_an_unknown_target_key_is_refused() -> None:
    data = _record()
    data["target"] = {**data["target"], "colour": "red"}  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="colour"):
        Result.model_validate(data)
    data["target"] = {**_record()["target"], "expect": {"titel_contains": ["x"]}}  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="titel_contains"):
        Result.model_validate(data)
