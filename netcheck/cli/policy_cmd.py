"""``netcheck policy validate|explain|import`` and ``netcheck check``: the declared policy.

A thin shell over ``netcheck.policy``: problems in files are ``InputError`` (exit 2 through
``guard``), except in ``validate``, whose output *is* the list of problems: every one on stdout,
then one ``netcheck: error:`` line on stderr naming the first and how many there are (exit 2;
exit 1 is kept for "something is blocked").
``check`` prints findings (``--format table`` for people, ``json`` lines, or ``csv``) and exits
1 when any is self-blocking or an unenforced block. ``explain`` says its decision in words.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from netcheck.cli import guard
from netcheck.errors import InputError
from netcheck.policy.importers import FORMATS, load_config, parse_config_spec
from netcheck.policy.loader import load_policy, require_group, require_network, resolve_network

# `policy validate` is a start-up-time command (bench/startup.py): what only explain and check
# need (the decision engine, the results reader, rich tables) is imported inside them.
FINDING_FORMATS = ("table", "json", "csv")


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _warn(notes: list[str]) -> None:
    """A config's reading notes (``EffectiveConfig.notes``), one warning line each."""
    for note in notes:
        _err(f"netcheck: warning: {note}")


app = typer.Typer(
    help="The agency's declared policy: validate it, explain a decision, import real configs.",
    no_args_is_help=True,
)


@app.command("validate")
@guard
def validate(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Policy YAML file.")],
) -> None:
    """List every problem of a policy file on stdout (file:line: field: message); exit 2 if any."""
    from netcheck.policy.validate import validate_file

    found = validate_file(file)
    for problem in found:
        print(problem)
    if found:
        more = f" ({len(found)} problems in all, listed on stdout)" if len(found) > 1 else ""
        _err(f"netcheck: error: {found[0]}{more}")
        raise typer.Exit(2)
    _err(f"{file}: valid")


@app.command("explain")
@guard
def explain(
    policy: Annotated[
        str, typer.Argument(metavar="FILE", help="Policy YAML, or a config with --format.")
    ],
    url: Annotated[str, typer.Argument(metavar="URL", help="The URL to decide.")],
    network: Annotated[
        str | None,
        typer.Option("--network", metavar="LABEL", help="Network label or probe address."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", metavar="GROUP", help="User group id.")
    ] = None,
    function: Annotated[
        str | None,
        typer.Option(
            "--function", metavar="FUNCTION", help="Function (default: from the catalogue)."
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option("--service", metavar="SERVICE", help="Service (default: from the catalogue)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="netcheck, or a config format: " + ", ".join(FORMATS),
        ),
    ] = "netcheck",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Print the decision for URL and the rule (file:line) that makes it."""
    from netcheck.targets.catalogue import url_problem

    problem = url_problem(url)
    if problem:
        raise InputError(problem, field="URL")
    from netcheck.policy.decide import decide_url
    from netcheck.target import FUNCTIONS

    if function is not None and function not in FUNCTIONS:
        raise InputError(
            f"unknown function {function!r}; known: {', '.join(FUNCTIONS)}", field="--function"
        )
    if service is not None:
        from netcheck.targets.catalogue import known_services

        if service not in known_services():
            known = ", ".join(known_services())
            raise InputError(f"unknown service {service!r}; known: {known}", field="--service")
    if fmt != "netcheck":
        config = load_config(fmt, policy)
        answer = config.decide(url)
        _warn(config.notes)
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
        require_group(doc, group)
        data = decide_url(
            doc, url, network=net, group=group, function=function, service=service
        ).as_json()
    if json_out:
        print(json.dumps(data, ensure_ascii=False))
        return
    for line in explanation(url, data):
        print(line)


def explanation(url: str, data: dict[str, Any]) -> list[str]:
    """``explain``'s answer for people: the decision, the rule and its line, in words."""
    where = f"{data['file']}:{data['line']}" if data["line"] else str(data["file"])
    lines = [f"{str(data['decision']).upper()}  {url}", f"  by {data['rule']}  ({where})"]
    needs = data.get("requirements") or {}
    wanted = []
    if needs.get("min_download_mbps") is not None:
        wanted.append(f"at least {needs['min_download_mbps']:g} Mbit/s of download")
    if needs.get("max_rtt_ms") is not None:
        wanted.append(f"a round trip under {needs['max_rtt_ms']:g} ms")
    if wanted:
        lines.append("  requires " + " and ".join(wanted))
    channel = data.get("official_channel")
    if channel:
        name = " ".join(str(channel[k]) for k in ("service", "handle") if channel.get(k))
        at = f" ({channel['url']})" if channel.get("url") else ""
        declared = f", declared at {data['file']}:{channel['line']}" if channel.get("line") else ""
        lines.append(f"  official channel {name}{at}{declared}: it must be reachable")
    if data.get("network"):
        lines.append(f"  network: {data['network']}")
    return lines


@app.command("import")
@guard
def import_(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=", ".join(FORMATS))],
    file: Annotated[str, typer.Argument(metavar="FILE", help="The config file.")],
) -> None:
    """Read a squid/pac/rpz/hosts/adblock config and print it as a netcheck policy (YAML)."""
    config = load_config(fmt, file)
    text = config.to_yaml()
    _warn(config.warnings())  # also in the YAML's header; each names its config line
    print(text, end="")


@guard
def check(
    results: Annotated[
        list[str], typer.Argument(metavar="RESULTS", help="Results files (JSON Lines).")
    ],
    policy: Annotated[str, typer.Option("--policy", metavar="FILE", help="Policy YAML file.")],
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            metavar="LABEL",
            help="Network label or probe address (overrides the records).",
        ),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", metavar="GROUP", help="User group id.")
    ] = None,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config",
            metavar="[FORMAT:]PATH",
            help="A real config (repeatable), to name the lines that block.",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="table (for people, the default), json (one finding per line) or csv.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print findings as JSON lines (--format json).")
    ] = False,
) -> None:
    """Compare results with the policy; exit 1 on self-blocking or an unenforced block."""
    from netcheck import output
    from netcheck.cli.tables import print_findings, write_findings_csv
    from netcheck.policy.compare import check_results, findings_exit_code

    chosen = _finding_format(fmt, json_out)
    doc = load_policy(policy)
    if network is not None:
        require_network(doc, network)
    require_group(doc, group)
    configs = [parse_config_spec(spec) for spec in config or []]
    for each in configs:
        _warn(each.notes)
    records = [r for path in results for r in output.read_results(path)]
    if not records:
        raise InputError("no results in the given files", field="RESULTS")
    for label in sorted({r.probe.network or "" for r in records} - {""}):
        if network is None and resolve_network(doc.policy, label) is None:
            _err(
                f"netcheck: warning: network {label!r} is not in {policy}; "
                "rules scoped to networks do not apply"
            )
    findings = check_results(records, doc, network=network, configs=configs, group=group)
    if chosen == "json":
        for finding in findings:
            print(json.dumps(finding.model_dump(mode="json"), ensure_ascii=False))
    elif chosen == "csv":
        write_findings_csv(findings, sys.stdout)
    else:
        print_findings(findings)
    raise typer.Exit(findings_exit_code(findings))


def _finding_format(fmt: str | None, json_out: bool) -> str:
    if fmt is None:
        return "json" if json_out else "table"
    if fmt not in FINDING_FORMATS:
        raise InputError(
            f"unknown format {fmt!r}; known: {', '.join(FINDING_FORMATS)}", field="--format"
        )
    if json_out and fmt != "json":
        raise InputError(f"--json asks for json, --format for {fmt}", field="--format")
    return fmt
