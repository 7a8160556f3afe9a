"""The communications officers' report, written for a person: first a one-screen summary of the
official channels, then each service function, then charts, then an appendix with the details.

In: the results table (``load`` + ``judge`` when a policy was given, ``judge`` with configs when
the agency's real configs were given), the policy (or None), a language. Out: ``build`` →
``CommsReport`` (plain data, every sentence already in the reader's language, from
``messages/<lang>.yaml``); ``render_html`` → one self-contained, printable HTML page (inline CSS
and SVG charts, no external URL, no script); ``render_markdown`` → Markdown for an email.

Reading order, as the office asked for it:
1. summary — each official channel: works / works in part / does not work, on which networks
   (networks with the same answer on one line), since when, and what to ask IT;
2. services by function — "X (Twitter) — emitir en directo", the same lines and words;
3. charts — each channel's state over time, on how many networks each function works, and the
   measured goodput against the policy's requirement;
4. appendix — one row per target and network that does not work: technique (for a page that
   opens but misbehaves, what works and what does not), evidence, probe and time of measurement.
Names are display names; files are named without their folders; counts use plural forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from netcheck import __version__
from netcheck.policy.loader import PolicyDoc
from netcheck.report import charts
from netcheck.report.advice import Need
from netcheck.report.i18n import Messages, messages
from netcheck.report.judge import display_network
from netcheck.report.render import render
from netcheck.report.state import ABILITIES, ABILITY_OF, ANSWERS, file_name, has_findings, latest
from netcheck.report.summary import (
    Card,
    channel_cards,
    channel_states,
    channel_title,
    function_cards,
    needs_of,
    net_answers,
    page_sentence,
    records,
)

NON_COMPLIANT = ("self-blocking", "unenforced-block", "bandwidth-shortfall", "undeclared")
#: columns of a channel's state over time; more are dropped from the left (the oldest)
MAX_COLUMNS = 60


@dataclass(frozen=True)
class Detail:
    """One appendix row: a target on a network that does not work."""

    function: str
    url: str
    network: str
    answer: str
    answer_text: str
    how: str
    evidence: str
    probe: str
    measured_at: str


@dataclass(frozen=True)
class Tally:
    """One row of the services table: on how many networks each answer was given."""

    title: str
    counts: dict[str, int]  # answer → networks


@dataclass(frozen=True)
class CommsReport:
    lang: str
    title: str
    intro: str
    policy_line: str
    channels: list[Card]
    tallies: list[Tally]
    services: list[Card]  # the service functions that do not work everywhere
    fine: str | None  # the ones that do, in one sentence
    charts: list[str]
    details: list[Detail]
    details_intro: str
    footer: str
    m: Messages


def build(frame: pd.DataFrame, policy: PolicyDoc | None, lang: str = "es") -> CommsReport:
    msgs = messages(lang)
    names = _network_names(frame, policy, msgs)
    now = _prepared(latest(frame), names)
    rows = records(now)
    needs = needs_of(rows, policy)
    answers = net_answers(rows, needs, msgs)
    states = channel_states(rows, answers, needs, msgs)
    details = _details(now, msgs)
    ok = int((now["verdict"] == "accessible").sum())
    functions = function_cards(answers, msgs)
    fine = [c for c in functions if c.answer == "yes"]
    return CommsReport(
        lang=lang,
        title=msgs.text("comms_title"),
        intro=msgs.text("comms_intro", **overview(frame, msgs)),
        policy_line=policy_line(policy, msgs),
        channels=channel_cards(states, policy, msgs),
        tallies=[Tally(c.title, _tally(c)) for c in functions],
        services=[c for c in functions if c.answer != "yes"],
        fine=msgs.text("all_work", functions=msgs.names([c.title for c in fine], quoted=False))
        if fine
        else None,
        charts=[*channel_charts(frame, names, policy, msgs), *goodput_chart(now, needs, msgs)],
        details=details,
        details_intro=msgs.text(
            "appendix_intro", omitted=msgs.count("omitted", ok) if ok else ""
        ).strip(),
        footer=msgs.text("footer", version=__version__, generated=msgs.date(datetime.now(UTC))),
        m=msgs,
    )


def _tally(card: Card) -> dict[str, int]:
    return {a: sum(len(x.networks) for x in card.lines if x.answer == a) for a in ANSWERS}


def overview(frame: pd.DataFrame, msgs: Messages) -> dict[str, object]:
    first = frame["ts"].min() if not frame.empty else None
    last = frame["ts"].max() if not frame.empty else None
    return {
        "records": msgs.count("records", len(frame)),
        "probes": msgs.count("probes", int(frame["probe_id"].nunique())),
        "networks": msgs.count("networks", int(frame["network"].nunique())),
        "first": msgs.date(first) if first is not None else "-",
        "last": msgs.date(last) if last is not None else "-",
    }


def policy_line(policy: PolicyDoc | None, msgs: Messages) -> str:
    if policy is None:
        return msgs.text("no_policy")
    p = policy.policy
    return msgs.text(
        "policy_given",
        organisation=p.organisation,
        version=p.version,
        file=file_name(policy.file),
    )


def render_html(report: CommsReport) -> str:
    return render("comms.html.j2", r=report, html=True)


def render_markdown(report: CommsReport) -> str:
    return render("comms.md.j2", r=report, html=False)


def _network_names(frame: pd.DataFrame, policy: PolicyDoc | None, msgs: Messages) -> dict[str, str]:
    labels = {str(n) for n in frame["network"].dropna().unique()}
    unnamed = msgs.text("network_unknown")
    return {label: display_network(label, policy) or unnamed for label in labels}


def _prepared(now: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """``now`` with the columns ``summary`` reads: net_name, ability, row_id."""
    return now.assign(
        net_name=[names.get(str(n), str(n)) if not pd.isna(n) else "-" for n in now["network"]],
        ability=now["function"].astype(str).map(ABILITY_OF).fillna("view"),
        service=now["service"].astype(str),
        row_id=range(len(now)),
    )


def _details(now: pd.DataFrame, msgs: Messages) -> list[Detail]:
    bad = now[now["verdict"] != "accessible"]
    answer = {"blocked": "no", "degraded": "partial"}
    out = []
    for _, r in bad.iterrows():
        code = answer.get(str(r["verdict"]), "unknown")
        technique = None if pd.isna(r["technique"]) else str(r["technique"])
        vendor = None if pd.isna(r["vendor"]) else str(r["vendor"])
        # a page that opens but misbehaves: what works and what does not
        page = page_sentence({str(k): v for k, v in r.items()}, msgs)
        out.append(
            Detail(
                function=msgs.text(
                    "channel_heading",
                    service=msgs.service(str(r["service"])),
                    channel=msgs.function(str(r["function"])),
                ),
                url=str(r["url"]),
                network=str(r["net_name"]),
                answer=code,
                answer_text=msgs.answer(code),
                how=page
                or (
                    msgs.technique(technique, vendor)
                    if technique or code != "unknown"
                    else msgs.verdict(str(r["verdict"]))
                ),
                evidence=str(r["evidence"]),
                probe=str(r["probe_id"]),
                measured_at=msgs.date(r["ts"]),
            )
        )
    order = {a: i for i, a in enumerate(ABILITIES)}
    rows = list(zip(out, bad["ability"], strict=True))
    rows.sort(key=lambda p: (p[0].function.casefold(), order[p[1]], p[0].network, p[0].url))
    return [d for d, _ in rows]


def channel_charts(
    frame: pd.DataFrame, names: dict[str, str], policy: PolicyDoc | None, msgs: Messages
) -> list[str]:
    """Per official channel, on how many networks it works / works in part / does not work, per
    day (per hour when the records span less than two days), by the same rule as the summary."""
    official = frame.loc[frame["official"], ["service", "url"]].drop_duplicates()
    if official.empty:
        return []
    span = frame["ts"].max() - frame["ts"].min()
    daily = span >= pd.Timedelta(days=2)
    bins = frame["ts"].dt.floor("D" if daily else "h")
    keys = sorted(bins.unique())[-MAX_COLUMNS:]
    label = msgs.text("day_format" if daily else "hour_format")
    out = []
    for service, url in official.itertuples(index=False):
        sub = frame["service"] == service
        counts = {a: [0] * len(keys) for a in ANSWERS}
        for i, key in enumerate(keys):
            rows = records(_prepared(latest(frame[sub & (bins == key)]), names))
            states = channel_states(rows, net_answers(rows, {}, msgs), {}, msgs)
            for a in states.get((str(service), str(url)), {}).values():
                counts[a.answer][i] += 1
        title = msgs.text(
            "chart_channel",
            channel=channel_title(str(service), str(url), policy, msgs),
            period=msgs.text("period_day" if daily else "period_hour"),
        )
        out.append(
            charts.stacked_columns(
                title,
                [pd.Timestamp(k).strftime(label) for k in keys],
                [(msgs.answer(a), charts.PALETTE[a], counts[a]) for a in _BOTTOM_UP],
                x_label=msgs.text("axis_day" if daily else "axis_hour"),
                y_label=msgs.text("axis_networks"),
            )
        )
    return out


_BOTTOM_UP = ("yes", "partial", "no", "unknown")


def goodput_chart(now: pd.DataFrame, needs: dict[int, Need], msgs: Messages) -> list[str]:
    """Per service and network where goodput was measured: the figure against the highest
    download speed the policy requires of that service there (drawn only when measured)."""
    measured = now[now["goodput_mbps"].notna()]
    if measured.empty:
        return []
    rows = []
    for (service, net), group in measured.groupby(["service", "net_name"], sort=True):
        required = [needs[i].mbps for i in group["row_id"] if i in needs]
        rows.append(
            (
                msgs.text("goodput_label", service=msgs.service(str(service)), network=net),
                float(group["goodput_mbps"].max()),
                max(required) if required else None,
            )
        )
    legend = (
        msgs.text("legend_measured"),
        msgs.text("legend_short"),
        msgs.text("legend_required"),
    )
    return [
        charts.against_requirement(
            msgs.text("chart_goodput"), rows, legend, axis=msgs.text("axis_mbps")
        )
    ]


def findings_chart(frame: pd.DataFrame, msgs: Messages) -> str:
    """Non-compliant findings per day (blocked records per day when no policy was given)."""
    if has_findings(frame):
        names = list(NON_COMPLIANT)
        table = frame[frame["kind"].isin(names)].groupby(["date", "kind"], observed=True).size()
        legend = [(msgs.kind(k), charts.PALETTE[k]) for k in names]
    else:
        names = ["blocked"]
        table = (
            frame[frame["verdict"] == "blocked"].groupby(["date", "verdict"], observed=True).size()
        )
        legend = [(msgs.verdict("blocked"), charts.PALETTE["blocked"])]
    dates = sorted(str(d) for d in frame["date"].unique())
    wide = table.unstack(fill_value=0) if not table.empty else pd.DataFrame()
    series = []
    for name, (label, colour) in zip(names, legend, strict=True):
        col = wide[name] if name in wide.columns else pd.Series(dtype=int)
        by_date = {str(k): int(v) for k, v in col.items()}
        series.append((label, colour, [by_date.get(d, 0) for d in dates]))
    return charts.stacked_columns(
        msgs.text("chart_findings"),
        dates,
        series,
        x_label=msgs.text("axis_day"),
        y_label=msgs.text("axis_records"),
    )
