"""Committed files name no path outside the repository (a machine's /work, /tmp, /root...)."""

from __future__ import annotations

import re
import subprocess

from tests.support.paths import ROOT

MACHINE_PATH = re.compile(r"(^|[^.\w])/(work|farm|root|home)/")


def test_no_committed_file_names_a_machine_path() -> None:
    files = subprocess.run(
        [
            "git",
            "ls-files",
            "netcheck",
            "tests",
            "scripts",
            "bench",
            "docs",
            "policies",
            "README.md",
            "sample_results",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if path.suffix in (".png", ".parquet") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if name == "tests/test_no_machine_paths.py":
            continue
        if MACHINE_PATH.search(text):
            found.append(name)
    assert found == []
