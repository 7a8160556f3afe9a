"""Help that helps: every option of every command has help text and a real metavar.

Walks the whole typer app as click sees it (every command module imported), and renders each
command's ``--help`` as a user sees it. Also checks the top-level listing, which is read from a
small table so ``netcheck --help`` loads no command module, against each command's own help.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from netcheck import __version__
from netcheck.cli import COMMANDS, app, load_command

# what typer prints when it falls back on the Python type: <list[str]>, <bool>, <int range>...
PYTHON_TYPE = re.compile(r"<(?:list\[|bool|str|int|float|path|text|integer)[^>]*>", re.I)


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def every_command() -> list[tuple[tuple[str, ...], Any]]:
    found = [(("netcheck",), typer.main.get_command(app))]
    for name in COMMANDS:
        command = load_command(name)
        assert command is not None, name
        found += list(_walk(command, ("netcheck", name)))
    return found


def test_every_option_and_argument_has_help() -> None:
    missing = []
    for path, command in every_command():
        for param in command.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0] if param.opts else param.name}")
    assert not missing, "without help text: " + ", ".join(missing)


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_help_shows_no_python_type(name: str) -> None:
    """Each command's help (and each of its sub-commands') as a user sees it."""
    if not name:
        paths: list[tuple[str, ...]] = [()]
    else:
        paths = [path[1:] for path, _ in _walk(load_command(name), ("netcheck", name))]
    for path in paths:
        shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        assert "Usage:" in shown.output
        assert not PYTHON_TYPE.findall(shown.output), shown.output


def test_usage_lines_name_arguments_as_click_does() -> None:
    """``FILE URL``, ``RESULTS...`` for one or more: not typer 0.28's ``{FILE}``."""
    for path, command in every_command():
        usage = command.collect_usage_pieces(typer.Context(command))
        for param in command.params:
            if isinstance(param, typer.core.TyperArgument):
                name = param.metavar or (param.name or "").upper()
                shown = name + ("..." if param.nargs != 1 else "")
                shown = shown if param.required else f"[{shown}]"
                assert shown in usage, (" ".join(path), usage)
        assert not [piece for piece in usage if piece.startswith("{")], (" ".join(path), usage)
    shown = CliRunner().invoke(app, ["classify", "--help"])
    assert " Usage: netcheck classify [OPTIONS] RESULTS... " in shown.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["classify"], "classify: Missing argument 'RESULTS'. (see "),
        (["targets", "list", "--nope"], "targets list: No such option: --nope"),
        (
            ["run", "--timeout", "-1"],
            "run: Invalid value for '--timeout': -1.0 is not in the range",
        ),
        (["nosuch"], "No such command 'nosuch'."),
        (["report", "x.jsonl", "--audience"], "Option '--audience' requires an argument"),
    ],
)
def test_a_usage_error_is_one_line(args: list[str], line: str) -> None:
    """Bad flags answer like bad input: one ``netcheck: error:`` line naming the option, exit
    2 (click itself writes the usage, a hint, a blank line and the error)."""
    done = subprocess.run(
        [sys.executable, "-m", "netcheck", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"netcheck: error: {line}"), done.stderr


def test_a_closed_stdout_is_neither_a_finding_nor_a_crash() -> None:
    """`netcheck targets list | head -1`: 141 (the shell's code for a closed pipe), no trace."""
    producer = subprocess.Popen(
        [sys.executable, "-m", "netcheck", "targets", "list", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None
    producer.stdout.read(10)
    producer.stdout.close()
    _, err = producer.communicate(timeout=60)
    assert producer.returncode in (0, 141), err  # 0 when it had written everything already
    assert b"Traceback" not in err
    assert b"internal error" not in err


def test_top_level_listing_matches_each_commands_own_help() -> None:
    for name, entry in COMMANDS.items():
        command = load_command(name)
        own = (command.short_help or command.help or "").strip().splitlines()[0]
        assert entry.help == own, f"netcheck.cli.COMMANDS[{name!r}] drifted from its --help"


def test_top_level_help_imports_no_command_module() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['netcheck', '--help']\n"
        "from netcheck.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'dns.resolver', 'cryptography', 'pydantic', 'rich',\n"
        "         'netcheck.models', 'netcheck.cli.run_cmd') if m in sys.modules]\n"
        "print('LOADED', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert "LOADED []" in done.stdout, done.stdout + done.stderr
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", done.stdout, re.M), name


def test_version() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "netcheck", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (shown.returncode, shown.stdout) == (0, f"netcheck {__version__}\n")


def test_unknown_command_is_a_usage_error_with_a_suggestion() -> None:
    shown = CliRunner().invoke(app, ["rnu"])
    assert shown.exit_code == 2
    assert "Did you mean 'run'?" in shown.output
