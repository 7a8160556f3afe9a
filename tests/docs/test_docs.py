"""The docs: README as a door, and a site that builds strictly with no broken link or anchor.

- README.md stays at most 8 KB, its two set-up commands are exactly the ones a newcomer copies,
  and each relative link in it points at a file of the repository.
- ``mkdocs build --strict`` passes (into a temporary folder, never the checkout's ``build/``);
  strict mode plus ``mkdocs.yml``'s validation makes a broken internal link or anchor fail it,
  which a deliberately broken copy proves.
- The CLI reference in the built site, generated from the typer app by a hook, has a section for
  every command and sub-command of ``netcheck.cli.app`` and names every option and argument of
  each in that section.
- The docs name no path outside the repository.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

README = ROOT / "README.md"
SETUP_COMMANDS = ["scripts/setup && .venv/bin/netcheck run", "scripts/test"]
_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=600,
        env=_ENV,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = _build(ROOT / "mkdocs.yml", out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stderr, run.stderr
    return out


# --- README --------------------------------------------------------------------------------------


def test_readme_is_at_most_8_kb() -> None:
    assert len(README.read_bytes()) <= 8192


def _code_blocks(markdown: str) -> list[list[str]]:
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.M | re.S)
    return [[line for line in b.splitlines() if line.strip()] for b in blocks]


def test_readme_gives_the_two_setup_commands_as_written() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    blocks = _code_blocks(section)
    assert blocks[:2] == [[SETUP_COMMANDS[0]], [SETUP_COMMANDS[1]]]
    for script in ("scripts/setup", "scripts/test"):
        assert os.access(ROOT / script, os.X_OK), f"README names {script}, which is not there"


def test_readme_links_point_into_the_repository() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert local, "the README links nowhere into the docs"
    assert [link for link in local if not (ROOT / link).exists()] == []
    assert any(link.startswith("docs/") for link in local)


def test_readme_has_no_benchmark_table() -> None:
    # figures go stale: they live in docs/benchmarks/*.txt, written by the bench scripts
    text = README.read_text(encoding="utf-8")
    assert "docs/benchmarks.md" in text
    assert not re.search(r"\d+(\.\d+)? (s|MB|Mbit/s) wall|ratio curl/netcheck|m/ceil", text)


# --- the site ------------------------------------------------------------------------------------


def test_strict_build_passes_and_writes_every_page(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = list(_nav_pages(config["nav"]))
    assert len(pages) >= 14
    for page in pages:
        assert (site / page).with_suffix(".html").is_file(), page
    assert (site / "schema" / "result.schema.json").is_file()
    # every generated section was filled: no marker survives into the site
    for built in site.rglob("*.html"):
        assert "<!-- generated:" not in built.read_text(encoding="utf-8"), built


def _nav_pages(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    """The validation settings of mkdocs.yml, on a tiny site with one broken anchor and one
    link to a page that does not exist: the strict build must refuse both."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(
        "# Home\n\n[there](other.md#no-such-heading) and [gone](missing.md)\n", encoding="utf-8"
    )
    (docs / "other.md").write_text("# Other\n\n## A heading\n", encoding="utf-8")
    small = {"site_name": "t", "validation": config["validation"], "strict": True}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(small), encoding="utf-8")
    run = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert run.returncode != 0
    assert "no-such-heading" in run.stderr
    assert "missing.md" in run.stderr


def _commands() -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    import typer

    from netcheck.cli import app

    root: Any = typer.main.get_command(app)
    top = root.make_context("netcheck", [], resilient_parsing=True)
    stack: list[tuple[tuple[str, ...], Any, Any]] = [(("netcheck",), root, top)]
    while stack:
        path, command, context = stack.pop()
        yield path, command, context
        for name in getattr(command, "list_commands", lambda _: [])(context):
            sub = command.get_command(context, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_context = sub.make_context(name, [], parent=context, resilient_parsing=True)
            stack.append(((*path, name), sub, sub_context))


def _sections(page: str) -> dict[str, str]:
    """Text of each command's section of the built CLI page, keyed by the heading's id."""
    heads = list(re.finditer(r'<h[2-6] id="(netcheck[a-z0-9-]*)"', page))
    sections = {}
    for here, after in zip(heads, [*heads[1:], None], strict=True):
        end = after.start() if after else len(page)
        sections[here.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", page[here.start() : end]))
    return sections


def test_cli_reference_covers_every_command_and_option(site: Path) -> None:
    sections = _sections((site / "cli.html").read_text(encoding="utf-8"))
    commands = list(_commands())
    assert len(commands) >= 15  # run, check, report, policy validate/explain/import, lab up/run...
    missing = []
    for path, command, context in commands:
        anchor = "-".join(path)
        text = sections.get(anchor)
        if text is None:
            missing.append(f"{' '.join(path)}: no section")
            continue
        if command.help:
            first = " ".join(command.help.split())[:40]
            if first not in " ".join(text.split()):
                missing.append(f"{' '.join(path)}: help text")
        for param in command.get_params(context):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "option":
                names = [*param.opts, *param.secondary_opts]
            else:
                names = [param.metavar or param.name]
            missing += [f"{' '.join(path)}: {n}" for n in names if n and not _names(n, text)]
    assert missing == []


def _names(word: str, text: str) -> bool:
    """``word`` stands alone in ``text``: ``--control`` is not found inside ``--control-token``."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_cli_reference_is_not_written_by_hand() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "<!-- generated: cli-reference -->" in page
    assert "--timeout" not in page
    assert "## netcheck" not in page


# --- no path outside the repository -------------------------------------------------------------


def test_docs_name_no_path_outside_the_repository() -> None:
    files = [README, ROOT / "mkdocs.yml", ROOT / "scripts" / "docs"]
    files += [p for p in (ROOT / "docs").rglob("*") if p.suffix in (".md", ".py", ".txt", ".yml")]
    offenders = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"(?<![\w.])/(work|tmp|root|home)/", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
