"""Tables as the commands print them: findings (``check``, ``run --policy``) and plain text.

In: ``Finding`` records. Out: on stdout, a table for people (a wide table on a wide terminal;
on a narrow one, such as 80 columns, one short block per finding so no column is squeezed into
one letter per line), or CSV rows with one column per field (``check --format csv``).

``text_table`` lays out rows of plain text without rich, for a command on the start-up budget
(``targets list``, bench/startup.py): rich is imported only by the findings tables.
"""

from __future__ import annotations

import csv
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table

    from netcheck.policy.findings import Finding

WIDE = 140  # below this many columns the nine-column table folds every cell

KIND_STYLE = {
    "self-blocking": "bold red",
    "unenforced-block": "bold yellow",
    "bandwidth-shortfall": "yellow",
    "compliant": "green",
    "undeclared": "cyan",
    "inconclusive": "dim",
}

CSV_COLUMNS = (
    "kind",
    "service",
    "function",
    "url",
    "official_channel",
    "network",
    "rule",
    "rule_file",
    "rule_line",
    "decision",
    "verdict",
    "technique",
    "vendor",
    "evidence",
    "config_line",
    "config_how",
    "measured_at",
    "probe_id",
    "result_id",
)


def _rule(f: Finding) -> str:
    return f"{f.rule} ({f.rule_file}:{f.rule_line})" if f.rule_line else f.rule


def findings_table(findings: list[Finding]) -> Table:
    """Every finding in one row of nine columns: for a wide terminal."""
    from rich.table import Table

    table = Table(title="netcheck: policy versus measurement")
    columns = ("kind", "service", "function", "url", "network", "rule", "verdict", "technique")
    for name in (*columns, "evidence"):
        table.add_column(name, overflow="fold")
    for f in findings:
        table.add_row(
            f"[{KIND_STYLE[f.kind]}]{f.kind}[/]",
            f.target.service,
            f.target.function + (" *" if f.official_channel else ""),
            f.target.url,
            f.network or "",
            _rule(f),
            f.verdict,
            f.technique or "",
            f.evidence,
        )
    return table


def findings_blocks(findings: list[Finding]) -> Table:
    """One block per finding (kind and target, then rule, verdict and evidence): for 80 columns."""
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for i, f in enumerate(findings):
        if i:
            table.add_row("", "")  # a blank line between findings
        channel = " *" if f.official_channel else ""
        table.add_row(
            f"[{KIND_STYLE[f.kind]}]{f.kind}[/]",
            f"{f.target.service} {f.target.function}{channel}  {f.target.url}",
        )
        verdict = f.verdict + (f" ({f.technique})" if f.technique else "")
        network = f"; network {f.network}" if f.network else ""
        table.add_row("", f"[dim]rule[/] {_rule(f)}{network}; [dim]measured[/] {verdict}")
        table.add_row("", f.evidence)
    return table


def print_findings(findings: list[Finding]) -> None:
    from netcheck.cli import stdout

    shown: RenderableType = (
        findings_table(findings) if stdout.width >= WIDE else findings_blocks(findings)
    )
    stdout.print(shown)
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    stdout.print(f"{len(findings)} findings: {parts}.  (* = official channel)", highlight=False)


def write_findings_csv(findings: list[Finding], out: TextIO) -> None:
    """One header row, then one row per finding (the target's fields flattened)."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for f in findings:
        row = f.model_dump(mode="json", exclude={"target"})
        row.update(service=f.target.service, function=f.target.function, url=f.target.url)
        writer.writerow({name: _cell(row.get(name)) for name in CSV_COLUMNS})


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


GAP = "  "  # between the columns of a text table


def text_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None
) -> str:
    """A title line, a header line and the rows, in columns two spaces apart. With a
    ``width`` (a terminal's), the widest column is narrowed, again and again, until a line
    fits (no column below 8 characters), and a cell that no longer fits is folded onto more
    lines (between words, else inside a long word such as a URL); without one, each row stays
    on one line (for ``grep`` and the like)."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    if width is not None:
        least = [min(w, 8) for w in widths]
        room = width - len(GAP) * (len(widths) - 1)
        while sum(widths) > room:
            i = max(range(len(widths)), key=lambda k: widths[k])  # the widest gives first
            if widths[i] <= least[i]:
                break  # as narrow as the columns go: the lines will be longer than width
            widths[i] -= 1
    lines = [title]
    for row in [headers, *rows]:
        cells = [
            (textwrap.wrap(cell, w, break_on_hyphens=False) or [""]) if len(cell) > w else [cell]
            for cell, w in zip(row, widths, strict=True)
        ]
        for k in range(max(len(c) for c in cells)):
            parts = [
                (c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)
            ]
            lines.append(GAP.join(parts).rstrip())
    return "\n".join(lines)
