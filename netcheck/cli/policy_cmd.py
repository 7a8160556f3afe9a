"""``netcheck policy validate|explain|import`` and ``netcheck check``: the declared policy.

A thin shell over ``netcheck.policy``: problems in files are ``InputError`` (exit 2 through
``guard``), except in ``validate``, whose output *is* the list of problems (exit 1 if any).
``check`` prints findings (a table, or JSON lines with ``--json``) and exits 1 when any is
self-blocking or an unenforced block.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from netcheck import output
from netcheck.cli import guard, stderr, stdout
from netcheck.cli.tables import print_findings
from netcheck.errors import InputError
from netcheck.models import FUNCTIONS
from netcheck.policy.compare import check_results, findings_exit_code
from netcheck.policy.decide import decide_url
from netcheck.policy.importers import FORMATS, load_config, parse_config_spec
from netcheck.policy.loader import load_policy, require_network, resolve_network
from netcheck.policy.validate import validate_file

app = typer.Typer(
    help="The agency's declared policy: validate it, explain a decision, import real configs.",
    no_args_is_help=True,
)


@app.command("validate")
@guard
def validate(file: Annotated[str, typer.Argument(help="Policy YAML file.")]) -> None:
    """Report every problem of a policy file (file:line: field: message); exit 1 if any."""
    found = validate_file(file)
    for problem in found:
        stdout.print(str(problem), highlight=False, markup=False)
    if found:
        stderr.print(f"{len(found)} problem(s)", highlight=False)
        raise typer.Exit(1)
    stderr.print(f"{file}: valid", highlight=False)


@app.command("explain")
@guard
def explain(
    policy: Annotated[str, typer.Argument(help="Policy YAML, or a config with --format.")],
    url: Annotated[str, typer.Argument(help="The URL to decide.")],
    network: Annotated[
        str | None, typer.Option("--network", help="Network label or probe address.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="User group id.")] = None,
    function: Annotated[
        str | None, typer.Option("--function", help="Function (default: from the catalogue).")
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Service (default: from the catalogue).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="netcheck, or a config format: " + ", ".join(FORMATS))
    ] = "netcheck",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Print the decision for URL and the rule (file:line) that makes it."""
    from netcheck.targets.catalogue import url_problem

    problem = url_problem(url)
    if problem:
        raise InputError(problem, field="URL")
    if function is not None and function not in FUNCTIONS:
        raise InputError(
            f"unknown function {function!r}; known: {', '.join(FUNCTIONS)}", field="--function"
        )
    if fmt != "netcheck":
        config = load_config(fmt, policy)
        answer = config.decide(url)
        data: dict[str, object] = {
            "decision": answer.action,
            "rule": answer.how,
            "file": answer.file,
            "line": answer.line,
            "default": answer.default,
            "format": fmt,
        }
    else:
        doc = load_policy(policy)
        net = require_network(doc, network)
        data = decide_url(
            doc, url, network=net, group=group, function=function, service=service
        ).as_json()
    if json_out:
        print(json.dumps(data, ensure_ascii=False))
        return
    where = f"{data['file']}:{data['line']}" if data["line"] else str(data["file"])
    stdout.print(f"{str(data['decision']).upper()}  {url}", highlight=False, markup=False)
    stdout.print(f"  by {data['rule']}  ({where})", highlight=False, markup=False)
    if data.get("requirements"):
        stdout.print(f"  requires {data['requirements']}", highlight=False, markup=False)
    if data.get("official_channel"):
        stdout.print(
            f"  official channel: must be reachable ({data['official_channel']})",
            highlight=False,
            markup=False,
        )
    if data.get("network"):
        stdout.print(f"  network: {data['network']}", highlight=False, markup=False)


@app.command("import")
@guard
def import_(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=", ".join(FORMATS))],
    file: Annotated[str, typer.Argument(help="The config file.")],
) -> None:
    """Read a squid/pac/rpz/hosts/adblock config and print it as a netcheck policy (YAML)."""
    print(load_config(fmt, file).to_yaml(), end="")


@guard
def check(
    results: Annotated[list[str], typer.Argument(help="Results files (JSON Lines).")],
    policy: Annotated[str, typer.Option("--policy", help="Policy YAML file.")],
    network: Annotated[
        str | None,
        typer.Option("--network", help="Network label or probe address (overrides the records)."),
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="User group id.")] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", help="[FORMAT:]PATH of a real config, to name blocking lines."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print findings as JSON lines.")] = False,
) -> None:
    """Compare results with the policy; exit 1 on self-blocking or an unenforced block."""
    doc = load_policy(policy)
    if network is not None:
        require_network(doc, network)
    configs = [parse_config_spec(spec) for spec in config or []]
    records = [r for path in results for r in output.read_results(path)]
    if not records:
        raise InputError("no results in the given files", field="RESULTS")
    for label in sorted({r.probe.network or "" for r in records} - {""}):
        if network is None and resolve_network(doc.policy, label) is None:
            stderr.print(
                f"netcheck: warning: network {label!r} is not in {policy}; "
                "rules scoped to networks do not apply",
                highlight=False,
                markup=False,
            )
    findings = check_results(records, doc, network=network, configs=configs, group=group)
    if json_out:
        for finding in findings:
            print(json.dumps(finding.model_dump(mode="json"), ensure_ascii=False))
    else:
        print_findings(findings)
    raise typer.Exit(findings_exit_code(findings))
