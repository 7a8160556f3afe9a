"""Each scenario against the real lab: the probe, run in the client namespace with the lab's
profile, must name the technique (and vendor) the scenario's gateway uses."""

from __future__ import annotations

import pytest

from netcheck.lab import scenarios, sites
from tests.lab.conftest import ScenarioRuns

pytestmark = pytest.mark.lab

ALL = scenarios.load()


@pytest.mark.parametrize("name", list(ALL))
def test_scenario_reports_its_technique(runs: ScenarioRuns, name: str) -> None:
    scenario = ALL[name]
    result = runs.get(name)
    wrong = [
        f"{o.url}: expected {o.expected}, got {o.reported}" for o in result.outcomes if not o.ok
    ]
    assert result.records, "the probe wrote no record"
    assert not wrong, "\n".join(wrong)
    # beyond the shared judge: each record against the first rule that names it
    used = set()
    for record in result.records:
        rule = next((e for e in scenario.expect if e.selects(record)), None)
        if rule is None:
            assert record["verdict"] == "accessible", record["target"]
            continue
        used.add(id(rule))
        assert record["verdict"] == rule.verdict, record["target"]
        if rule.technique is not None:
            assert record["technique"] == rule.technique, record["target"]
        if rule.vendor is not None:
            assert record["vendor"] == rule.vendor, record["target"]
    assert used == {id(rule) for rule in scenario.expect}


def test_clean_reports_whole_catalogue_accessible(runs: ScenarioRuns) -> None:
    result = runs.get("clean")
    urls = {r["target"]["url"] for r in result.records}  # type: ignore[index]
    assert urls == {t.url for t in sites.lab_targets()}
    assert {r["verdict"] for r in result.records} == {"accessible"}
    assert not any(r["intercepted"] for r in result.records)
