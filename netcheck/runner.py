"""A probe run, from its options to its records: what ``netcheck run`` (and an agent) drives.

In: ``RunOptions``, the values a user gave (flags, or an agent's configuration), and the
environment (proxy variables). Out: ``plan_run`` checks every input and returns a ``RunPlan``
(the probe's configuration, the targets, the declared policy, the goodput URLs) or raises
``InputError`` naming the flag or file, before any packet is sent or any file written;
``measure`` and ``measure_goodput`` run the plan; ``compare`` sets the records against the policy.

Nothing here prints or parses flags: the command module keeps the progress bar and the tables.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netcheck import netaddr
from netcheck.bandwidth import run as bandwidth_run
from netcheck.classify.fingerprints import load_fingerprints
from netcheck.control.client import ControlClient, read_token
from netcheck.errors import InputError
from netcheck.measure import dns, proxy
from netcheck.measure.probe import Probe, ProbeConfig
from netcheck.measure.probeid import probe_id as default_probe_id
from netcheck.measure.trust import load_trust
from netcheck.models import Result, Target
from netcheck.pacjs import PacError
from netcheck.policy.compare import check_results
from netcheck.policy.loader import PolicyDoc, load_policy, require_group, require_network
from netcheck.targets import catalogue, load_targets
from netcheck.targets.files import odd_character, url_problem

if TYPE_CHECKING:
    from netcheck.browser.session import BrowserPlan
    from netcheck.policy.findings import Finding

HTTP_SCHEMES = ("http://", "https://")
Callback = Callable[[Result], None]


@dataclass(frozen=True)
class RunOptions:
    """A run as the user asked for it; field names follow ``netcheck run``'s flags."""

    targets: Sequence[str] = ()
    no_catalogue: bool = False
    services: Sequence[str] = ()
    functions: Sequence[str] = ()
    resolvers: Sequence[str] = ()
    ca_bundle: str | None = None
    local_ca: str | None = None
    allow_nets: Sequence[str] = ()
    proxy: str | None = None
    pac: str | None = None
    #: --proxy-auth: auto, basic, digest, ntlm or negotiate (None: auto, not given)
    proxy_auth: str | None = None
    timeout: float = 5.0
    concurrency: int = 16
    per_host: int = 4
    fingerprints: Sequence[str] = ()
    network: str | None = None
    max_body: int = 262_144
    probe_id: str | None = None
    policy: str | None = None
    group: str | None = None
    control: str | None = None
    control_token_file: str | None = None
    bandwidth: bool = False
    bandwidth_control: str | None = None
    bandwidth_urls: Sequence[str] = ()
    #: --browser: each page target in the installed Chromium too (issue 16)
    browser: bool = False
    browser_path: str | None = None
    browser_deadline: float = 20.0


@dataclass(frozen=True)
class Goodput:
    """``--bandwidth``: the large object per service and the control's, for the throttling test."""

    urls: dict[str, str | None]
    control_url: str


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs, checked: nothing in it can still be a user's mistake."""

    config: ProbeConfig
    targets: list[Target]
    policy: PolicyDoc | None = None
    group: str | None = None
    goodput: Goodput | None = None
    #: --browser: the browser found and each page's limits (screenshots: set by the caller)
    browser: BrowserPlan | None = None


def plan_run(options: RunOptions, environ: Mapping[str, str]) -> RunPlan:
    """Check every option and file, in the order a user would fix them; raise ``InputError``."""
    check_numbers(options)
    check_labels(options)
    doc = policy_for(options)  # a bad policy stops us before anything else is read
    selected = select_targets(
        options.targets, options.services, options.functions, catalogue_too=not options.no_catalogue
    )
    goodput = goodput_for(
        options.bandwidth,
        options.bandwidth_control,
        options.bandwidth_urls,
        services=[t.service for t in selected],
    )
    config = probe_config(options, environ)
    check_pac(config, selected)
    return RunPlan(
        config=config,
        targets=selected,
        policy=doc,
        group=options.group,
        goodput=goodput,
        browser=browser_for(options, environ),
    )


def browser_for(options: RunOptions, environ: Mapping[str, str]) -> BrowserPlan | None:
    """``--browser``: the installed browser, or ``BrowserMissing`` (exit 2) before anything
    runs. Playwright and the browser package load only here, only when asked for."""
    if not options.browser:
        if options.browser_path is not None:
            raise InputError("given without --browser", field="--browser-path")
        return None
    from netcheck.browser.capture import PageLimits
    from netcheck.browser.launch import find_browser
    from netcheck.browser.session import BrowserPlan

    executable = find_browser(options.browser_path, environ)
    return BrowserPlan(executable, PageLimits(deadline=options.browser_deadline))


def plan_browse(
    urls: Sequence[str], options: RunOptions, environ: Mapping[str, str], service: str | None
) -> RunPlan:
    """``netcheck browse URL...``: each URL as a page target (its service from the catalogue
    unless ``service`` is given), measured like ``run --browser`` measures a page."""
    if not urls:
        raise InputError("give at least one URL", field="URL")
    targets: list[Target] = []
    for url in urls:
        host = netaddr.url_host(url) if url.startswith(HTTP_SCHEMES) else ""
        if not host:
            raise InputError(f"expected an http(s) URL, got {url[:200]!r}", field="URL")
        owner = service or catalogue.service_for_host(host)
        targets.append(Target(url=url, service=owner, function="view"))
    return RunPlan(
        config=probe_config(options, environ),
        targets=targets,
        browser=browser_for(dataclasses.replace(options, browser=True), environ),
    )


MAX_LABEL_CHARS = 128
#: a probe id names a folder of the fleet's archive (results/<probe_id>/...): a word, no path
_PROBE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._:@-]*")


#: upper bounds of run's numbers: beyond them a value is a typo, or a way to wait forever
#: (``--timeout inf``) or to read a hostile server's endless body into memory
LIMITS = {
    "--timeout": ("timeout", 600.0),
    "--browser-deadline": ("browser_deadline", 600.0),
    "--max-body": ("max_body", 64 * 2**20),
    "--concurrency": ("concurrency", 1024),
    "--per-host": ("per_host", 1024),
}


def check_numbers(options: RunOptions) -> None:
    """Each number finite and at most its ``LIMITS`` bound (typer checks the lower ones, but
    ``nan`` passes a ``min`` and ``inf`` has no end)."""
    for flag, (name, most) in LIMITS.items():
        value = getattr(options, name)
        if not math.isfinite(value):
            raise InputError(f"expected a number, got {value}", field=flag)
        if value > most:
            raise InputError(f"{value} is more than the {most} allowed", field=flag)


def check_labels(options: RunOptions) -> None:
    """``--network`` and ``--probe-id`` go into every record as written: one line of text, not
    empty, at most ``MAX_LABEL_CHARS``; a probe id is one word (letters, digits, ``._:@-``)."""
    for flag, value in (("--network", options.network), ("--probe-id", options.probe_id)):
        if value is None:
            continue
        if not value.strip():
            raise InputError("must not be empty", field=flag)
        if len(value) > MAX_LABEL_CHARS:
            raise InputError(f"longer than {MAX_LABEL_CHARS} characters", field=flag)
        odd = odd_character(value)
        if odd is not None:
            raise InputError(f"{odd}: {value[:60]!r}", field=flag)
    if options.probe_id is not None and not _PROBE_ID.fullmatch(options.probe_id):
        raise InputError(
            f"expected one word of letters, digits and ._:@- , got {options.probe_id[:60]!r}",
            field="--probe-id",
        )


def input_files(options: RunOptions) -> list[tuple[str, str]]:
    """(flag, path) of every file the run reads."""
    pac = options.pac if options.pac and not options.pac.startswith(HTTP_SCHEMES) else None
    given = [
        *(("--targets", path) for path in options.targets),
        *(("--fingerprints", path) for path in options.fingerprints),
        ("--ca-bundle", options.ca_bundle),
        ("--local-ca", options.local_ca),
        ("--pac", pac.removeprefix("file://") if pac else None),
        ("--policy", options.policy),
        ("--control-token-file", options.control_token_file),
        ("--browser-path", options.browser_path),
    ]
    return [(flag, path) for flag, path in given if path]


def refuse_input_as_out(out: os.PathLike[str] | str, options: RunOptions) -> None:
    """``InputError`` when ``--out`` is one of the run's input files under any spelling
    (``./x``, a symbolic or a hard link): records are appended to ``--out``, and would be
    appended to the targets file, the policy or the CA bundle the user meant to read."""
    for flag, path in input_files(options):
        try:
            same = os.path.samefile(out, os.path.expanduser(path))
        except OSError:  # --out does not exist yet (so it is no input), or the input is gone
            same = False
        if same:
            raise InputError(
                f"is the {flag} file {path!r}: the records would be appended to it",
                file=os.fspath(out),
                field="--out",
            )


def check_pac(config: ProbeConfig, targets: Sequence[Target]) -> None:
    """Ask the PAC of ``--pac`` about every target before anything is measured: an answer that
    is not a string (a number, undefined) or a script that throws would otherwise send that
    target DIRECT with only a note, and the run would measure a path no browser takes."""
    if config.pac is None:
        return
    for url in dict.fromkeys(t.url for t in targets):
        try:
            config.pac.decide(url)
        except PacError as exc:
            raise InputError(
                f"FindProxyForURL fails for {url[:100]}: {exc}",
                file=config.pac.source,
                field="--pac",
            ) from None


def _http_url(value: str, field: str) -> str:
    """``value`` when it is an http(s) URL the probe can fetch, else ``InputError``."""
    problem = url_problem(value) if value.startswith(HTTP_SCHEMES) else None
    if not value.startswith(HTTP_SCHEMES) or problem is not None:
        why = f": {problem}" if problem else ""
        raise InputError(f"expected an http(s) URL, got {value[:200]!r}{why}", field=field)
    return value


def policy_for(options: RunOptions) -> PolicyDoc | None:
    """The declared policy, with ``--network`` and ``--group`` known to it."""
    if options.policy is None:
        if options.group is not None:
            raise InputError("given without --policy", field="--group")
        return None
    doc = load_policy(options.policy)
    require_network(doc, options.network)
    require_group(doc, options.group)
    return doc


def select_targets(
    files: Sequence[str],
    services: Sequence[str],
    functions: Sequence[str],
    *,
    catalogue_too: bool = True,
) -> list[Target]:
    """The catalogue (unless left out) plus the targets files, narrowed; never empty."""
    if catalogue_too:
        selected = load_targets(list(files), list(services), list(functions))
    else:
        if not files:
            raise InputError(
                "needs --targets: without the catalogue there is nothing to measure",
                field="--no-catalogue",
            )
        merged: list[Target] = []
        for path in files:
            merged = catalogue.merge(merged, catalogue.load_targets_file(path))
        selected = catalogue.select(merged, services=services, functions=functions)
    if not selected:
        flag = "--function" if functions and not services else "--service"
        raise InputError("no targets left after --service/--function", field=flag)
    return selected


def probe_config(options: RunOptions, environ: Mapping[str, str]) -> ProbeConfig:
    """The probe's settings: resolvers, trust anchors, fingerprints, proxy and PAC, control."""
    resolvers = [dns.parse_resolver(spec) for spec in options.resolvers] or None
    nets = [str(netaddr.parse_cidr(spec)) for spec in options.allow_nets]
    trust = load_trust(options.ca_bundle, options.local_ca)
    fps = load_fingerprints(list(options.fingerprints))
    settings = proxy.proxy_settings(options.proxy, options.pac, environ, options.proxy_auth)
    pac_eval = asyncio.run(proxy.load_pac(settings))
    return ProbeConfig(
        trust=trust,
        proxy=settings,
        pac=pac_eval,
        resolvers=resolvers,
        allow_nets=nets,
        fingerprints=fps,
        timeout=options.timeout,
        concurrency=options.concurrency,
        per_host=options.per_host,
        max_body=options.max_body,
        network=options.network,
        probe_id=options.probe_id or default_probe_id(),
        control=control_client(options.control, options.control_token_file),
    )


def control_client(url: str | None, token_file: str | None) -> ControlClient | None:
    """The control vantage of ``--control`` and its token, or None."""
    if url is None:
        if token_file is not None:
            raise InputError("given without --control", field="--control-token-file")
        return None
    _http_url(url, "--control")
    if token_file is None:
        raise InputError("required with --control", field="--control-token-file")
    return ControlClient(url=url, token=read_token(token_file))


def goodput_for(
    enabled: bool, control_url: str | None, specs: Sequence[str], services: Sequence[str] = ()
) -> Goodput | None:
    """The large-object URL per service (catalogue hints, then ``--bandwidth-url``), or None.
    A ``--bandwidth-url`` must name a service of the catalogue or of ``services`` (the run's
    targets): a misspelt one would be ignored and its service measured without it."""
    if not enabled:
        if control_url is not None or specs:
            given = "--bandwidth-control" if control_url is not None else "--bandwidth-url"
            raise InputError("given without --bandwidth", field=given)
        return None
    if control_url is None:
        raise InputError("required with --bandwidth", field="--bandwidth-control")
    _http_url(control_url, "--bandwidth-control")
    urls = catalogue.bandwidth_hints()
    for spec in specs:
        service, sep, url = spec.partition("=")
        service = service.strip().lower()
        if not sep or not service or not url.startswith(HTTP_SCHEMES):
            raise InputError(
                f"expected SERVICE=http(s)-URL, got {spec[:200]!r}", field="--bandwidth-url"
            )
        known = list(dict.fromkeys([*urls, *services]))
        if service not in known:
            raise InputError(
                f"unknown service {service!r}; known: {', '.join(known)}", field="--bandwidth-url"
            )
        urls[service] = _http_url(url, "--bandwidth-url")
    return Goodput(urls=urls, control_url=control_url)


async def measure(plan: RunPlan, done: Callback) -> list[Result]:
    """Measure every target of the plan; ``done`` hears each record as it settles (with
    ``--browser``: once the page targets have been loaded in the browser too)."""
    if plan.browser is None:
        return await Probe(plan.config).run(plan.targets, done)
    from netcheck.browser.session import browse_results

    results = await Probe(plan.config).run(plan.targets, lambda _: None)
    results = await browse_results(plan.config, plan.browser, results)
    for result in results:
        done(result)
    return results


def measure_goodput(
    plan: RunPlan, results: list[Result], note: Callable[[str], None]
) -> list[Result]:
    """After the page measurements, each service's goodput against the control, one at a time;
    the records come back with their bandwidth evidence (unchanged without ``--bandwidth``)."""
    if plan.goodput is None:
        return results
    per_service = asyncio.run(
        bandwidth_run.measure_services(
            results,
            plan.goodput.urls,
            plan.goodput.control_url,
            note=note,
            verify=plan.config.trust.public_ca,
        )
    )
    return bandwidth_run.apply_all(results, per_service)


def compare(plan: RunPlan, results: list[Result]) -> list[Finding] | None:
    """The findings of ``--policy`` (None without a policy)."""
    if plan.policy is None:
        return None
    return check_results(results, plan.policy, network=plan.config.network, group=plan.group)
