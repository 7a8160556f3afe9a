"""What the hostile-input tests of tests/targets share: the error contract of issue 12 (exit
code 2, exactly one line on stderr naming file, line and field) and a fingerprint of a folder, to
show nothing was created or changed."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from tests.support.paths import ROOT

LOOPBACK = "targets:\n  - url: https://127.0.0.1:9/\n    service: lo\n    function: view\n"
ENTRY = "targets:\n  - url: {url}\n    service: {service}\n    function: view\n"
OONI = "name,scope,location_found,pattern_type,pattern,exp_url,source\n"
FP_YAML = (
    "fingerprints:\n  - id: x\n    vendor: acme\n    scope: body\n    match: {match}\n"
    "    pattern: {pattern}\n"
)
RESULTS = ROOT / "sample_results" / "lab" / "clean.jsonl"


def one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
