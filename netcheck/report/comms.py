"""The communications officers' report: can the official channels and each service's functions
be viewed, administered, streamed, from which networks, since when, what blocks them (in words),
and what to ask IT, quoting the rule.

In: the results table (``load`` + ``judge`` when a policy was given), the policy (or None), a
language. Out: ``build`` → ``CommsReport`` (plain data, every sentence already in the reader's
language, from ``messages/<lang>.yaml``); ``render_html`` → one self-contained HTML page (inline
CSS and SVG charts, no external URL, no script); ``render_markdown`` → Markdown for an email.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from netcheck import __version__
from netcheck.policy.loader import PolicyDoc
from netcheck.report import charts
from netcheck.report.i18n import Messages, messages
from netcheck.report.judge import display_network
from netcheck.report.render import render
from netcheck.report.state import ABILITY_OF, ask_it, has_findings, latest

NON_COMPLIANT = ("self-blocking", "unenforced-block", "bandwidth-shortfall", "undeclared")


@dataclass(frozen=True)
class ChannelLine:
    url: str
    service: str
    network: str
    state: str  # ok | blocked | degraded | unknown
    sentence: str
    since: str | None = None
    ask: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ServiceLine:
    service: str
    ability: str
    network: str
    answer: str  # yes | no | partial | unknown
    answer_text: str
    why: list[str] = field(default_factory=list)
    since: str | None = None
    ask: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CommsReport:
    lang: str
    title: str
    intro: str
    policy_line: str
    channels: list[ChannelLine]
    services: list[ServiceLine]
    blocked: list[str]
    charts: list[str]
    footer: str
    m: Messages


def build(frame: pd.DataFrame, policy: PolicyDoc | None, lang: str = "es") -> CommsReport:
    msgs = messages(lang)
    now = latest(frame)
    now["net_name"] = [
        display_network(_opt(n), policy) or msgs.text("network_unknown") for n in now["network"]
    ]
    return CommsReport(
        lang=lang,
        title=msgs.text("comms_title"),
        intro=msgs.text("comms_intro", **overview(frame, msgs)),
        policy_line=policy_line(policy, msgs),
        channels=_channels(now, msgs),
        services=(services := _services(now, msgs)),
        blocked=[
            msgs.text(
                "service_blocked",
                service=s.service,
                ability=s.ability,
                network=s.network,
                how="; ".join(s.why),
            )
            for s in services
            if s.answer in ("no", "partial") and s.why
        ],
        charts=_charts(frame, now, msgs),
        footer=msgs.text("footer", version=__version__, generated=msgs.date(datetime.now(UTC))),
        m=msgs,
    )


def overview(frame: pd.DataFrame, msgs: Messages) -> dict[str, object]:
    first = frame["ts"].min() if not frame.empty else None
    last = frame["ts"].max() if not frame.empty else None
    return {
        "records": len(frame),
        "probes": frame["probe_id"].nunique(),
        "networks": frame["network"].nunique(),
        "first": msgs.date(first) if first is not None else "-",
        "last": msgs.date(last) if last is not None else "-",
    }


def policy_line(policy: PolicyDoc | None, msgs: Messages) -> str:
    if policy is None:
        return msgs.text("no_policy")
    p = policy.policy
    return msgs.text(
        "policy_given", organisation=p.organisation, version=p.version, file=policy.file
    )


def render_html(report: CommsReport) -> str:
    return render("comms.html.j2", r=report, html=True)


def render_markdown(report: CommsReport) -> str:
    return render("comms.md.j2", r=report, html=False)


def _channels(now: pd.DataFrame, msgs: Messages) -> list[ChannelLine]:
    out = []
    for _, row in now[now["official"]].iterrows():
        verdict = row["verdict"]
        how = msgs.technique(_opt(row["technique"]), _opt(row["vendor"]))
        values = {"url": row["url"], "network": row["net_name"], "how": how}
        state = {"accessible": "ok", "blocked": "blocked", "degraded": "degraded"}.get(
            verdict, "unknown"
        )
        key = {"ok": "channel_ok", "blocked": "channel_blocked", "degraded": "channel_degraded"}
        sentence = msgs.text(key.get(state, "channel_unknown"), **values)
        bad = state in ("blocked", "degraded")
        since = row["since"]
        out.append(
            ChannelLine(
                url=str(row["url"]),
                service=str(row["service"]),
                network=str(row["net_name"]),
                state=state,
                sentence=sentence,
                since=msgs.text("since", since=msgs.date(since)) if not pd.isna(since) else None,
                ask=ask_it(row, msgs, str(row["net_name"])) if bad else None,
                note=(
                    msgs.text("self_blocking_note")
                    if has_findings(now) and row["kind"] == "self-blocking"
                    else None
                ),
            )
        )
    return _problems_first(out, msgs)


_STATE_ORDER = {"blocked": 0, "degraded": 1, "unknown": 2, "ok": 3}


def _problems_first(lines: list[ChannelLine], msgs: Messages) -> list[ChannelLine]:
    """What needs action comes first; a channel that works everywhere is one line, not one per
    network, so the reader's eye goes to the problems."""
    problems = sorted(
        (c for c in lines if c.state != "ok"), key=lambda c: (_STATE_ORDER[c.state], c.url)
    )
    fine: dict[str, list[ChannelLine]] = {}
    for c in lines:
        if c.state == "ok":
            fine.setdefault(c.url, []).append(c)
    grouped = []
    for url, group in sorted(fine.items()):
        if len(group) == 1:
            grouped.append(group[0])
            continue
        nets = sorted(c.network for c in group)
        names = ", ".join(msgs.text("network_quoted", name=n) for n in nets)
        sentence = msgs.text("channel_ok_many", url=url, count=len(group), networks=names)
        grouped.append(replace(group[0], network=", ".join(nets), sentence=sentence))
    return problems + grouped


def _services(now: pd.DataFrame, msgs: Messages) -> list[ServiceLine]:
    if now.empty:
        return []
    now = now.assign(
        ability=now["function"].astype(str).map(ABILITY_OF).fillna("view"),
        service=now["service"].astype(str),
    )
    out = []
    for (service, ability, net), rows in now.groupby(
        ["service", "ability", "net_name"], observed=True, sort=True
    ):
        loads = rows["verdict"] == "accessible"
        bad = rows["verdict"].isin(("blocked", "degraded"))
        if loads.all():
            answer = "yes"
        elif bad.any() and not loads.any():
            answer = "no"
        elif bad.any():
            answer = "partial"
        else:
            answer = "unknown"
        blocked = rows[bad]
        why = sorted(
            {
                msgs.technique(_opt(t), _opt(v))
                for t, v in zip(blocked["technique"], blocked["vendor"], strict=True)
            }
        )
        since = blocked["since"].min() if not blocked.empty else pd.NaT
        ask = sorted({ask_it(r, msgs, str(net)) for _, r in blocked.iterrows()})
        out.append(
            ServiceLine(
                service=str(service),
                ability=msgs.ability(str(ability)),
                network=str(net),
                answer=answer,
                answer_text=msgs.answer(answer),
                why=why,
                since=msgs.date(since) if not pd.isna(since) else None,
                ask=ask,
            )
        )
    return out


def _charts(frame: pd.DataFrame, now: pd.DataFrame, msgs: Messages) -> list[str]:
    out: list[str] = []
    if now.empty:
        return out
    counts = (
        now.assign(
            part=now["verdict"].map(
                lambda v: "ok" if v == "accessible" else "blocked" if v == "blocked" else "other"
            )
        )
        .groupby(["service", "function", "part"], observed=True)
        .size()
        .unstack("part", fill_value=0)
        .reindex(columns=["ok", "blocked", "other"], fill_value=0)
        .reset_index()
    )
    rows = [
        (
            f"{r['service']} · {msgs.function(str(r['function']))}",
            [int(r[p]) for p in ("ok", "blocked", "other")],
        )
        for r in counts.to_dict("records")
    ]
    parts = [
        (msgs.text("legend_ok"), charts.PALETTE["ok"]),
        (msgs.text("legend_blocked"), charts.PALETTE["blocked"]),
        (msgs.text("legend_other"), charts.PALETTE["other"]),
    ]
    out.append(charts.stacked_bars(msgs.text("chart_reachability"), rows, parts))
    out.extend(goodput_chart(now, msgs))
    out.append(findings_chart(frame, msgs))
    return out


def goodput_chart(now: pd.DataFrame, msgs: Messages) -> list[str]:
    """Drawn only when records carry a goodput figure."""
    from netcheck.targets.catalogue import live_ingest_thresholds

    measured = now[now["goodput_mbps"].notna()]
    if measured.empty:
        return []
    need = {s: max(levels.values()) for s, levels in live_ingest_thresholds().items() if levels}
    rows = [
        (
            f"{r['service']} · {r['net_name']}",
            float(r["goodput_mbps"]),
            need.get(str(r["service"])) if r["function"] == "live_ingest" else None,
        )
        for _, r in measured.iterrows()
    ]
    return [charts.against_requirement(msgs.text("chart_goodput"), rows)]


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
    return charts.stacked_columns(msgs.text("chart_findings"), dates, series)


def _opt(value: Any) -> str | None:
    """A pandas cell as text: missing (None, NaN, NA) is None."""
    return None if value is None or pd.isna(value) else str(value)
