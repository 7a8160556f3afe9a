"""mkdocs hook: the CLI reference, generated from the typer app at build time.

In: ``netcheck.cli.app`` (the very object ``netcheck`` runs) and the page ``cli.md``, which holds
the marker ``<!-- generated: cli-reference -->``. Out: that marker replaced by one section per
command and sub-command (usage, help, arguments, options with metavar, default and help), in the
order ``--help`` lists them. Nothing is written by hand, so the reference cannot drift from
``--help``; ``tests/docs`` checks that every command and option appears in the built page.

The walk goes through click's own API (``list_commands``/``get_command`` with a context), so a
group that loads its commands lazily is walked like any other. Typer vendors click, so objects
are recognised by what they do, not by their class.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MARKER = "<!-- generated: cli-reference -->"
PAGE = "cli.md"


@dataclass(frozen=True)
class Command:
    """One command of the tree: its words (``netcheck policy import``), the object, its context."""

    path: tuple[str, ...]
    command: Any
    context: Any

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def anchor(self) -> str:
        return "-".join(self.path)


def walk(command: Any, context: Any, path: tuple[str, ...]) -> Iterator[Command]:
    """Every visible command under ``command``, depth first, in ``--help`` order."""
    yield Command(path, command, context)
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        if sub is None or getattr(sub, "hidden", False):
            continue
        sub_context = sub.make_context(name, [], parent=context, resilient_parsing=True)
        yield from walk(sub, sub_context, (*path, name))


def commands() -> list[Command]:
    """The ``netcheck`` tree, as the installed console script sees it."""
    import typer

    from netcheck.cli import app

    root = typer.main.get_command(app)
    # resilient parsing: build each context without running the command or asking for arguments
    context = root.make_context("netcheck", [], resilient_parsing=True)
    return list(walk(root, context, ("netcheck",)))


def _text(value: str) -> str:
    """Help text as safe Markdown inside a table cell or paragraph."""
    escaped = html.escape(" ".join(value.split()), quote=False)
    for char in "\\`*_[]":
        escaped = escaped.replace(char, "\\" + char)
    return escaped.replace("|", "&#124;")


def _code(value: str) -> str:
    return "<code>" + html.escape(value, quote=False).replace("|", "&#124;") + "</code>"


def _paragraphs(help_text: str) -> list[str]:
    blocks = [b for b in inspect.cleandoc(help_text).split("\n\n") if b.strip()]
    return [_text(b.replace("\b", "")) for b in blocks]


def render_command(entry: Command) -> str:
    command, context = entry.command, entry.context
    depth = min(len(entry.path) + 1, 4)
    lines = [f"{'#' * depth} {entry.name} {{ #{entry.anchor} }}", ""]
    lines += ["```text", command.get_usage(context).strip(), "```", ""]
    for paragraph in _paragraphs(command.help or ""):
        lines += [paragraph, ""]
    arguments: list[str] = []
    options: list[str] = []
    for param in command.get_params(context):
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(context)
        if record is None:
            record = (param.human_readable_name, "")
        row = f"| {_code(record[0])} | {_text(record[1]) or '&nbsp;'} |"
        (options if param.param_type_name == "option" else arguments).append(row)
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            lines += [f"**{title}**", "", f"| {title[:-1].lower()} | help |", "|---|---|"]
            lines += [*rows, ""]
    subs = list(_children(entry))
    if subs:
        lines += ["**Commands**: " + ", ".join(f"[`{s}`](#{a})" for s, a in subs), ""]
    return "\n".join(lines)


def _children(entry: Command) -> Iterator[tuple[str, str]]:
    command, context = entry.command, entry.context
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        if sub is not None and not getattr(sub, "hidden", False):
            yield name, "-".join((*entry.path, name))


def render() -> str:
    return "\n".join(render_command(entry) for entry in commands())


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        from mkdocs.exceptions import PluginError

        raise PluginError(f"{PAGE} lost its marker {MARKER}: the CLI reference has nowhere to go")
    return markdown.replace(MARKER, render())
