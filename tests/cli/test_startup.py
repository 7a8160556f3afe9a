"""The start-up-time commands (``targets list``, ``policy validate``; bench/startup.py times
them) load none of the heavy libraries, and ``targets list`` lays out its table without rich.

Each command runs in a fresh interpreter, as a person would start it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from netcheck.cli.tables import text_table
from netcheck.targets.catalogue import builtin_targets
from tests.support.paths import ROOT

HEAVY = ("pydantic", "rich", "httpx", "dns.resolver", "cryptography", "netcheck.models")


@pytest.mark.parametrize(
    "args", [["targets", "list"], ["policy", "validate", str(ROOT / "policies" / "lab.yaml")]]
)
def test_start_up_commands_load_no_heavy_library(args: list[str]) -> None:
    probe = (
        "import sys\n"
        f"sys.argv = ['netcheck', *{args!r}]\n"
        "from netcheck.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    code = exc.code\n"
        "else:\n    code = 0\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('LOADED', heavy, 'EXIT', code, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert "LOADED [] EXIT 0" in done.stderr, done.stderr
    assert done.stdout.strip() or "valid" in done.stderr


def test_targets_list_into_a_pipe_is_one_line_per_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", "targets", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.splitlines()
    targets = builtin_targets()
    assert lines[0] == f"{len(targets)} targets"
    assert [c.strip() for c in lines[1].split("  ") if c.strip()] == [
        "service",
        "function",
        "url",
        "official",
        "certificate must cover",
        "page shows",
    ]
    assert len(lines) == 2 + len(targets)
    for line, target in zip(lines[2:], targets, strict=True):
        assert line.split()[:3] == [target.service, target.function, target.url]


def test_a_text_table_folds_to_the_width_it_is_given() -> None:
    rows = [
        ("youtube", "view", "https://www.youtube.com/" + "a" * 90, "yes", "www.youtube.com"),
        ("x", "official_channel", "https://x.com/agency", "", "x.com, twitter.com, t.co"),
    ]
    headers = ("service", "function", "url", "official", "certificate must cover")
    text = text_table("2 targets", headers, rows, 60)
    lines = text.splitlines()
    assert lines[0] == "2 targets"
    assert max(len(line) for line in lines) <= 60
    assert len(lines) > 4  # the long URL (and headers) folded onto more lines
    # every cell's text is there, in order, when a column's pieces are put back together
    starts = [lines[1].index(h.split()[0]) for h in headers]
    ends = [*(s - 2 for s in starts[1:]), 60]
    column = [
        "".join(line[s:e].replace(" ", "") for line in lines[1:])
        for s, e in zip(starts, ends, strict=True)
    ]
    for i, h in enumerate(headers):
        assert column[i].startswith(h.replace(" ", "")), column[i]
        for row in rows:
            assert row[i].replace(" ", "") in column[i]


def test_a_text_table_without_a_width_keeps_each_row_on_one_line() -> None:
    rows = [("a" * 200, "b"), ("c", "d d")]
    lines = text_table("t", ("one", "two"), rows, None).splitlines()
    assert lines == ["t", "one" + " " * 197 + "  two", "a" * 200 + "  b", "c" + " " * 199 + "  d d"]
