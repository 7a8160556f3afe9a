"""The comms report's two readings of the latest state: per official channel, and per service
function, with the networks that give the same answer gathered on one line.

In: ``now`` — ``state.latest`` rows with ``net_name`` (the network as people call it),
``ability`` (``state.ABILITY_OF``) and ``row_id`` (a stable row number) columns — the policy (or
None) and a ``Messages``. Out: ``channel_cards`` — one ``Card`` per official channel: works / works
in part / does not work, on which networks, since when, and what to ask IT; ``function_cards`` —
one ``Card`` per (service, function) the same way. Every line uses the catalogue's ``answers``
words and the same ``line_*`` sentences, so the summary, the table and the charts agree.

A channel works on a network when its page loads fully and, where they were measured there, the
service's other functions (administer, publish, stream) work too: that is what "can we run our
channel from here" means to the office. A page that opens but misbehaves (browser mode's
``degraded``) says what works and what does not: "el canal abre, pero sus vídeos no se
reproducen: el servidor de nombres no encuentra rr3---sn-….googlevideo.com" (``page_sentence``);
a page where only ads or analytics failed is ``accessible``, so it simply works.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from netcheck.netaddr import url_host
from netcheck.policy.loader import PolicyDoc
from netcheck.report.advice import Need, advice, requirement
from netcheck.report.i18n import Messages
from netcheck.report.state import ABILITIES, ANSWERS, answer_of, page_failures


@dataclass(frozen=True)
class NetAnswer:
    """One network's answer for one service function (or one channel)."""

    answer: str  # yes | no | partial | unknown
    what: str = ""  # what fails, in words ("" when it works)
    since: pd.Timestamp | None = None
    ask: tuple[str, ...] = ()


@dataclass(frozen=True)
class Line:
    """Networks that give the same answer."""

    answer: str
    answer_text: str
    networks: list[str]
    where: str
    sentence: str
    what: str = ""
    listed: str | None = None  # the networks' names when ``where`` only counts them
    since: str | None = None  # a sentence ("Bloqueado desde el ...")
    since_date: str | None = None  # the date alone, for a table's column
    ask: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Card:
    title: str
    lines: list[Line]
    url: str | None = None

    @property
    def answer(self) -> str:
        """The worst answer on the card."""
        return min((line.answer for line in self.lines), key=ANSWERS.index, default="unknown")


Answers = dict[tuple[str, str, str], NetAnswer]
#: a latest row as plain values (``records``): missing cells are None
Row = dict[str, Any]


def records(now: pd.DataFrame) -> list[Row]:
    """``now`` as plain rows: a few thousand at fleet scale, cheaper to walk than groupbys."""
    rows = now.astype(object).where(now.notna(), None).to_dict("records")
    return [{str(k): v for k, v in row.items()} for row in rows]


def net_answers(rows: list[Row], needs: dict[int, Need], msgs: Messages) -> Answers:
    """(service, ability, network) → that network's answer."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        key = (str(row["service"]), str(row["ability"]), str(row["net_name"]))
        groups.setdefault(key, []).append(row)
    return {key: _answer(group, msgs, needs) for key, group in groups.items()}


def needs_of(rows: list[Row], policy: PolicyDoc | None) -> dict[int, Need]:
    """Requirements of the rows that are slowed or measured (few rows: one decision each)."""
    out = {}
    for row in rows:
        if row["verdict"] == "degraded" or row.get("goodput_mbps") is not None:
            need = requirement(row, policy)
            if need is not None:
                out[int(row["row_id"])] = need
    return out


def _answer(rows: list[Row], msgs: Messages, needs: dict[int, Need]) -> NetAnswer:
    answer = answer_of([str(r["verdict"]) for r in rows])
    if answer == "yes":
        return NetAnswer("yes")
    if answer == "unknown":
        return NetAnswer("unknown", msgs.text("unknown_what"))
    failing = [r for r in rows if r["verdict"] in ("blocked", "degraded")]
    parts: list[str] = []
    by_how: dict[tuple[str, str], list[Row]] = {}
    for r in failing:
        page = page_sentence(r, msgs)
        if page is not None:
            if page not in parts:
                parts.append(page)
            continue
        by_how.setdefault((r["technique"] or "", r["vendor"] or ""), []).append(r)
    for (technique, vendor), group in sorted(by_how.items()):
        how = msgs.technique(technique or None, vendor or None)
        if answer == "partial":
            hosts = sorted({url_host(str(r["url"])) or str(r["url"]) for r in group})
            slow = all(r["verdict"] == "degraded" for r in group)
            key = "hosts_slow" if slow else "hosts_fail"
            fails = msgs.count(key, len(hosts), hosts=msgs.names(hosts, quoted=False))
            how = msgs.text("fails_how", fails=fails, how=how)
        parts.append(how)
    if answer == "no":
        times = [r["since"] for r in failing if r["verdict"] == "blocked" and r["since"]]
    else:
        times = [r["trouble_since"] for r in failing if r["trouble_since"]]
    asks = advice(failing, msgs, needs)
    return NetAnswer(answer, _joined(parts, msgs), min(times) if times else None, tuple(asks))


#: request types as the sentences group them (``page_parts``): an xhr and a fetch are API calls
PART_OF = {"xhr": "api", "fetch": "api"}
#: hosts named in one clause; the rest are counted
MAX_HOSTS = 3


def page_sentence(row: Mapping[str, Any], msgs: Messages) -> str | None:
    """For a page that opens but misbehaves (browser mode's ``degraded``), what works and what
    does not, one clause per (what fails, technique); None for any other row."""
    failed = page_failures(row)
    if not failed:
        return None
    groups: dict[tuple[str, str, str], list[str]] = {}
    for f in failed:
        part = PART_OF.get(f.type, f.type)
        part = part if part in msgs.sections["page_parts"] else "other"
        hosts = groups.setdefault((part, f.technique, f.vendor or ""), [])
        if f.host not in hosts:
            hosts.append(f.host)
    clauses: list[str] = []
    for (part, technique, vendor), hosts in groups.items():
        how = _how(technique, vendor, hosts, msgs)
        key = "page_fails_more" if clauses else "page_fails"
        page = msgs.page(str(row["service"]), _page_function(row))
        clauses.append(msgs.text(key, page=page, part=msgs.sections["page_parts"][part], how=how))
    return _joined(clauses, msgs)


def _page_function(row: Mapping[str, Any]) -> str:
    return "official_channel" if row.get("official") else str(row["function"])


def _how(technique: str, vendor: str, hosts: list[str], msgs: Messages) -> str:
    if len(hosts) > MAX_HOSTS:
        named = msgs.count("more_hosts", len(hosts) - MAX_HOSTS, hosts=", ".join(hosts[:MAX_HOSTS]))
    else:
        named = msgs.names(hosts, quoted=False)
    how_of = msgs.sections["page_how"]
    how = how_of.get(technique, how_of["none"]).format_map({"hosts": named})
    return msgs.text("vendor_suffix", how=how, vendor=msgs.vendor(vendor)) if vendor else how


def _joined(parts: Sequence[str], msgs: Messages) -> str:
    out = parts[0] if parts else ""
    for part in parts[1:]:
        out = msgs.text("what_join", first=out, second=part)
    return out


def channel_answer(
    page_answer: NetAnswer, others: Sequence[tuple[str, NetAnswer]], msgs: Messages
) -> NetAnswer:
    """A channel on one network: its page (``page_answer``) and the service's other functions."""
    if page_answer.answer in ("no", "unknown"):
        return page_answer
    failing = [(ability, a) for ability, a in others if a.answer in ("no", "partial")]
    if page_answer.answer == "yes" and not failing:
        return NetAnswer("yes")
    parts = [page_answer.what] if page_answer.answer == "partial" else []
    cannot = [msgs.ability(ability) for ability, a in failing if a.answer == "no"]
    if cannot:
        parts.append(msgs.text("cannot", abilities=msgs.names(cannot, quoted=False, joiner="nor")))
    some = [msgs.ability(ability) for ability, a in failing if a.answer == "partial"]
    if some:
        parts.append(msgs.count("in_part", len(some), abilities=msgs.names(some, quoted=False)))
    times = [a.since for _, a in failing if a.since is not None]
    if page_answer.since is not None:
        times.append(page_answer.since)
    asks = sorted({s for _, a in failing for s in a.ask} | set(page_answer.ask))
    return NetAnswer("partial", _joined(parts, msgs), min(times) if times else None, tuple(asks))


def channel_states(
    rows: list[Row], answers: Answers, needs: dict[int, Need], msgs: Messages
) -> dict[tuple[str, str], dict[str, NetAnswer]]:
    """(service, channel url) → network → the channel's answer there."""
    pages: dict[tuple[str, str], dict[str, list[Row]]] = {}
    for row in rows:
        if row["official"]:
            channel = pages.setdefault((str(row["service"]), str(row["url"])), {})
            channel.setdefault(str(row["net_name"]), []).append(row)
    out: dict[tuple[str, str], dict[str, NetAnswer]] = {}
    for (service, url), by_net in sorted(pages.items()):
        per_net = out.setdefault((service, url), {})
        for net, page in by_net.items():
            others = [
                (a, answers[(service, a, net)])
                for a in ABILITIES[1:]
                if (service, a, net) in answers
            ]
            per_net[net] = channel_answer(_answer(page, msgs, needs), others, msgs)
    return out


def channel_cards(
    states: dict[tuple[str, str], dict[str, NetAnswer]],
    policy: PolicyDoc | None,
    msgs: Messages,
) -> list[Card]:
    return [
        Card(channel_title(service, url, policy, msgs), group_lines(per_net, msgs), url=url)
        for (service, url), per_net in states.items()
    ]


def channel_title(service: str, url: str, policy: PolicyDoc | None, msgs: Messages) -> str:
    """ "YouTube — @MinisterioLab": the channel as the policy names it (its handle), else the
    last part of its URL."""
    name = None
    if policy is not None:
        for channel in policy.policy.official_channels:
            if channel.service == service and channel.url == url and channel.handle:
                name = channel.handle
    if name is None:
        path = url.split("://", 1)[-1].rstrip("/")
        name = path.rsplit("/", 1)[-1] if "/" in path else path
    return msgs.text("channel_heading", service=msgs.service(service), channel=name)


def function_cards(answers: Answers, msgs: Messages) -> list[Card]:
    by_function: dict[tuple[str, str], dict[str, NetAnswer]] = {}
    for (service, ability, net), a in answers.items():
        by_function.setdefault((service, ability), {})[net] = a
    order = sorted(
        by_function, key=lambda k: (msgs.service(k[0]).casefold(), ABILITIES.index(k[1]))
    )
    return [
        Card(
            msgs.text("channel_heading", service=msgs.service(s), channel=msgs.ability(a)),
            group_lines(by_function[(s, a)], msgs),
        )
        for s, a in order
    ]


def group_lines(per_net: dict[str, NetAnswer], msgs: Messages) -> list[Line]:
    """Networks with the same (answer, what, advice) on one line; problems first."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for net in sorted(per_net, key=str.casefold):
        a = per_net[net]
        groups.setdefault((a.answer, a.what, a.ask), []).append(net)
    lines = []
    for (answer, what, ask), nets in sorted(
        groups.items(), key=lambda kv: (ANSWERS.index(kv[0][0]), -len(kv[1]), kv[1][0])
    ):
        place, named = _where(nets, len(per_net), answer == "yes" and len(groups) > 1, msgs)
        times = [t for n in nets if (t := per_net[n].since) is not None]
        since = min(times) if times else None
        lines.append(
            Line(
                answer=answer,
                answer_text=msgs.answer(answer),
                networks=nets,
                where=place,
                sentence=msgs.text(f"line_{answer}", where=place, what=what),
                what=what,
                listed=None if named else msgs.names(nets),
                since=_since(answer, since, msgs),
                since_date=msgs.date(since) if since is not None and answer != "yes" else None,
                ask=list(ask),
            )
        )
    return lines


def _since(answer: str, since: pd.Timestamp | None, msgs: Messages) -> str | None:
    if since is None or answer not in ("no", "partial"):
        return None
    return msgs.text("since_no" if answer == "no" else "since_partial", since=msgs.date(since))


def _where(nets: list[str], total: int, rest: bool, msgs: Messages) -> tuple[str, bool]:
    """Where, in words, and whether the words name every network."""
    if len(nets) == 1:
        return msgs.text("where_one", name=nets[0]), True
    if len(nets) == total:
        return msgs.text("where_all", n=total), False
    if rest and len(nets) > 3:
        return msgs.text("where_rest", n=len(nets)), False
    count = msgs.count("networks", len(nets))
    return msgs.text("where_many", count=count, names=msgs.names(nets)), True
