"""Running the probe inside the lab and judging what it reports.

In: an up lab and scenarios. Out: for each scenario, the records ``netcheck run`` wrote from the
client namespace (``<state>/results/<scenario>.jsonl``, copied to ``--out`` when given) and the
outcome of each record against the scenario's expectations (``scenarios.check``), plus one
failed outcome when the records or the probe's log carry any password of the lab's directory:
a credential in a record is a leak whatever the verdicts say.

The probe is the real CLI in a subprocess: ``ip netns exec nclab-client python -m netcheck run``
with the flags of the scenario's profile, so a lab run measures exactly what a user's run would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.errors import NetcheckError
from netcheck.lab import profile
from netcheck.lab.lifecycle import Lab
from netcheck.lab.scenarios import Outcome, Scenario, check

PROBE_DEADLINE = 240.0
#: ``netcheck run`` exit code for a tool error (bad flag or file): never a network outcome
TOOL_ERROR = 2


@dataclass(frozen=True)
class ScenarioRun:
    scenario: Scenario
    records: list[dict[str, object]]
    outcomes: list[Outcome]
    results_file: Path
    seconds: float
    stderr: str = field(default="", repr=False)
    #: the probe alone (``netcheck run``), without applying the scenario
    probe_seconds: float = 0.0
    #: ``netcheck run``'s exit code: 1 only when it found something blocked
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)


def read_records(path: Path) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    if not path.is_file():
        return records
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if isinstance(item, dict):
                records.append(item)
    return records


@dataclass(frozen=True)
class ProbeRun:
    results: Path
    stderr: str
    exit_code: int
    seconds: float


def run_probe(
    lab: Lab,
    scenario: Scenario,
    out: Path | None = None,
    changes: Mapping[str, object] | None = None,
) -> ProbeRun:
    """Apply the scenario and run the probe in the client namespace; ``changes`` alter its
    profile for this run only (e.g. no credentials), ``out`` is where the records go."""
    lab.apply(scenario)
    prof = profile.read(lab.configs(scenario.name) / "profile.json")
    if changes:
        prof = prof.model_copy(update=dict(changes))
    if out is None:
        lab.results.mkdir(parents=True, exist_ok=True)
        out = lab.results / f"{scenario.name}.jsonl"
    out.unlink(missing_ok=True)  # netcheck run appends
    start = time.monotonic()
    proc = subprocess.run(
        profile.probe_argv(prof, out),
        capture_output=True,
        text=True,
        timeout=PROBE_DEADLINE,
        check=False,
    )
    if proc.returncode == TOOL_ERROR or not out.is_file():
        raise NetcheckError(
            f"lab: the probe failed in scenario {scenario.name}: {proc.stderr.strip()[-2000:]}"
        )
    return ProbeRun(out, proc.stderr, proc.returncode, time.monotonic() - start)


def run_scenario(lab: Lab, scenario: Scenario, out_dir: Path | None = None) -> ScenarioRun:
    start = time.monotonic()
    probe = run_probe(lab, scenario)
    path, stderr = probe.results, probe.stderr
    records = read_records(path)
    outcomes = check(scenario, records)
    written = path.read_text("utf-8", errors="replace") + stderr
    if any(secret in written for secret in lab.accounts.secrets()):
        outcomes.append(
            Outcome(
                url="(records and log)",
                expected="no credential",
                reported="a password of the lab's staff account",
                ok=False,
            )
        )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out_dir / path.name)
    return ScenarioRun(
        scenario=scenario,
        records=records,
        outcomes=outcomes,
        results_file=path,
        seconds=time.monotonic() - start,
        stderr=stderr,
        probe_seconds=probe.seconds,
        exit_code=probe.exit_code,
    )
