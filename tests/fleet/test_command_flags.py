"""Bad values for the flags of ``lab``, ``speed``, ``diagnose`` and ``browse``: exit 2, one
line naming the flag, before any packet, browser or file — and ``lab`` never deletes a folder
it did not make (``lab down`` removes its state folder whole).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fleet.support import netcheck


@pytest.mark.root("the lab answers a non-root user with 'needs root' before it looks at the folder")
@pytest.mark.parametrize("command", ["down", "up", "run"])
def test_lab_refuses_a_state_folder_it_did_not_make(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "documents"
    (folder / "thesis").mkdir(parents=True)
    (folder / "thesis" / "chapter1.md").write_text("years of work\n")
    done = netcheck("lab", command, "--state-dir", str(folder))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "--state-dir: not a lab state folder" in done.stderr
    assert (folder / "thesis" / "chapter1.md").read_text() == "years of work\n"


@pytest.mark.root("the lab answers a non-root user with 'needs root' before it looks at the folder")
def test_lab_refuses_a_state_folder_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    done = netcheck("lab", "down", "--state-dir", str(path))
    assert done.returncode == 2
    assert "--state-dir: not a folder" in done.stderr
    assert path.read_text() == "x"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["speed", "--url", "http://h.example:99999/x"], "--url"),
        (["speed", "--url", "http://h.example:0/x"], "--url"),
        (["speed", "--url", "http://a b/"], "--url"),
        (["speed", "--upload-url", "http://[::1"], "--upload-url"),
        (["speed", "--url", "http://h.example/", "--max-bytes", str(10**30)], "--max-bytes"),
        (["diagnose", "http://a b/"], "URL"),
        (["diagnose", "http://h.example/", "--timeout", "nan"], "--timeout"),
        (["diagnose", "http://h.example/", "--timeout", "inf"], "--timeout"),
        (["browse", "http://h.example/", "--timeout", "nan"], "--timeout"),
        (["browse", "http://h.example/", "--deadline", "inf"], "--deadline"),
        (["browse", "http://h.example/", "--browser-path", "/"], "--browser-path"),
    ],
)
def test_a_bad_value_is_exit_2_before_anything_runs(
    tmp_path: Path, args: list[str], flag: str
) -> None:
    out = tmp_path / "out.jsonl"
    extra = ["--out", str(out)] if args[0] == "browse" else []
    done = netcheck(*args, *extra)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"netcheck: error: {flag}:" in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
