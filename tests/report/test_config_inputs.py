"""``report --config``: every file a config reads is an input ``--out`` may not overwrite, and
a config's reading notes reach the user as warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

RESULTS = str(ROOT / "sample_results" / "lab" / "proxy-blockpage.jsonl")
POLICY = str(ROOT / "policies" / "lab.yaml")


def report(tmp_path: Path, config: str, out: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", "report", RESULTS, "--policy", POLICY]
        + ["--config", config, "--format", "md", "--out", out],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_out_naming_a_file_the_squid_config_reads_is_refused(tmp_path: Path) -> None:
    """The acl file a squid.conf names (and the files it includes) are inputs too: a report
    written over them would destroy the agency's real configuration."""
    (tmp_path / "inc").mkdir()
    acl = tmp_path / "inc" / "blocked.txt"
    acl.write_text(".facebook.com\n")
    included = tmp_path / "inc" / "more.conf"
    included.write_text("acl c dstdomain .x.com\nhttp_access deny c\n")
    (tmp_path / "squid.conf").write_text(
        'include inc/more.conf\nacl b dstdomain "inc/blocked.txt"\n'
        "http_access deny b\nhttp_access allow all\n"
    )
    for target in (acl, included):
        before = target.read_bytes()
        done = report(tmp_path, "squid:squid.conf", str(target.relative_to(tmp_path)))
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "is an input" in done.stderr
        assert target.read_bytes() == before


def test_a_configs_reading_notes_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "squid.conf").write_text(
        "include /nonexistent-netcheck/*.conf\nacl b dstdomain .facebook.com\n"
        "http_access deny b\nhttp_access allow all\n"
    )
    done = report(tmp_path, "squid:squid.conf", "r.md")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("netcheck: warning:")]
    assert len(warnings) == 1, done.stderr
    assert warnings[0].startswith("netcheck: warning: squid.conf:1: include ")
    assert (tmp_path / "r.md").exists()
