"""`run`'s flag values and `--out`: a bad one stops the run with exit code 2 and one line, before
anything is measured or any file created or changed (issue 12).

The cases fail before anything is measured; should one ever get past its check, its only target
is a closed port on 127.0.0.1 (an IP literal: no DNS) and `--proxy none`, so nothing leaves
loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import netcheck  # the command in a subprocess, proxy variables unset
from tests.targets.support import LOOPBACK, OONI, digest, one_line


def _run(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "t.yaml").write_text(LOOPBACK)
    return netcheck(
        "run", "--no-catalogue", "--targets", "t.yaml", "--proxy", "none", *flags, cwd=tmp_path
    )


@pytest.mark.parametrize("spelling", ["t.yaml", "./t.yaml", "link.yaml", "hard.yaml"])
def test_out_naming_an_input_is_refused_and_the_input_is_untouched(
    tmp_path: Path, spelling: str
) -> None:
    """Records are appended to --out: given the targets file under any spelling, they were
    appended to it."""
    (tmp_path / "t.yaml").write_text(LOOPBACK)
    (tmp_path / "link.yaml").symlink_to("t.yaml")
    os.link(tmp_path / "t.yaml", tmp_path / "hard.yaml")
    before = digest(tmp_path)
    proc = _run(tmp_path, "--out", spelling)
    one_line(proc, f"{spelling.removeprefix('./')}: --out: is the --targets file")
    assert digest(tmp_path) == before


def test_out_naming_the_fingerprints_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fp.csv").write_text(OONI + "prs_a,prod,body,contains,abc,,\n")
    (tmp_path / "t.yaml").write_text(LOOPBACK)
    before = digest(tmp_path)
    proc = _run(tmp_path, "--fingerprints", "fp.csv", "--out", "fp.csv")
    one_line(proc, "fp.csv: --out: is the --fingerprints file")
    assert digest(tmp_path) == before


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--network", ""], "--network: must not be empty"),
        (["--network", "a\nb"], "--network: holds the control character U+000A"),
        (["--network", "x" * 200], "--network: longer than 128"),
        (["--probe-id", "../x"], "--probe-id: expected one word"),
        (["--probe-id", " "], "--probe-id: must not be empty"),
        (["--control", "http://", "--control-token-file", "x"], "--control: expected an http"),
        (["--bandwidth", "--bandwidth-control", "http://[::1"], "--bandwidth-control: expected"),
        (
            ["--bandwidth", "--bandwidth-control", "http://c/", "--bandwidth-url", "x=http://a b"],
            "--bandwidth-url: expected an http(s) URL",
        ),
        (
            ["--bandwidth", "--bandwidth-control", "http://c/", "--bandwidth-url", "nos=http://a/"],
            "--bandwidth-url: unknown service 'nos'",
        ),
        (["--service", ""], "--service: '' names nothing"),
    ],
)
def test_bad_run_flags_stop_before_anything_is_created(
    tmp_path: Path, flags: list[str], needle: str
) -> None:
    proc = _run(tmp_path, *flags, "--out", "r.jsonl")
    one_line(proc, needle)
    assert not (tmp_path / "r.jsonl").exists()


def test_a_pac_answering_a_number_is_refused_before_measuring(tmp_path: Path) -> None:
    """A non-string answer went DIRECT with only a note in the record (issue 12)."""
    (tmp_path / "p.pac").write_text("function FindProxyForURL(url, host) { return 5; }\n")
    (tmp_path / "t.yaml").write_text(LOOPBACK)
    proc = netcheck(
        "run", "--no-catalogue", "--targets", "t.yaml", "--pac", "p.pac", "--out", "r.jsonl",
        cwd=tmp_path,
    )  # fmt: skip
    one_line(proc, "p.pac: --pac: FindProxyForURL fails for https://127.0.0.1:9/", "number")
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--timeout", "nan"], "--timeout: expected a number, got nan"),
        (["--timeout", "inf"], "--timeout: expected a number, got inf"),
        (["--browser-deadline", "nan"], "--browser-deadline: expected a number"),
        (["--max-body", "99999999999999999999"], "--max-body: 99999999999999999999 is more"),
        (["--concurrency", "100000"], "--concurrency: 100000 is more than the 1024"),
    ],
)
def test_numbers_without_end_are_refused(tmp_path: Path, flags: list[str], needle: str) -> None:
    """`nan` passed typer's `min`, and `inf` or a huge body cap meant waiting or reading
    without end."""
    proc = _run(tmp_path, *flags, "--out", "r.jsonl")
    one_line(proc, needle)
    assert not (tmp_path / "r.jsonl").exists()
