"""Tables the commands print on stdout: findings (``check``, ``run --policy``)."""

from __future__ import annotations

from rich.table import Table

from netcheck.cli import stdout
from netcheck.policy.findings import Finding

KIND_STYLE = {
    "self-blocking": "bold red",
    "unenforced-block": "bold yellow",
    "bandwidth-shortfall": "yellow",
    "compliant": "green",
    "undeclared": "cyan",
    "inconclusive": "dim",
}


def findings_table(findings: list[Finding]) -> Table:
    table = Table(title="netcheck: policy versus measurement")
    for name in (
        "kind",
        "service",
        "function",
        "url",
        "network",
        "rule",
        "verdict",
        "technique",
        "evidence",
    ):
        table.add_column(name, overflow="fold")
    for f in findings:
        rule = f"{f.rule} ({f.rule_file}:{f.rule_line})" if f.rule_line else f.rule
        table.add_row(
            f"[{KIND_STYLE[f.kind]}]{f.kind}[/]",
            f.target.service,
            f.target.function + (" *" if f.official_channel else ""),
            f.target.url,
            f.network or "",
            rule,
            f.verdict,
            f.technique or "",
            f.evidence,
        )
    return table


def print_findings(findings: list[Finding]) -> None:
    stdout.print(findings_table(findings))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    stdout.print(f"{len(findings)} findings: {parts}.  (* = official channel)", highlight=False)
