"""The comms report: named channel, network, technique in words, since when, and the rule to
quote to IT; both languages from the catalogues; self-contained HTML; Markdown for email."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from netcheck.policy.loader import load_policy
from netcheck.report import comms
from netcheck.report.judge import judge
from netcheck.report.load import load
from tests.report.test_report_load import CHANNEL, POLICY, write_scenario


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    root = write_scenario(tmp_path_factory.mktemp("comms") / "results")
    policy = load_policy(POLICY)
    return judge(load([str(root)]), policy), policy


def _rule_line(rule_id: str) -> int:
    lines = Path(POLICY).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == f"- id: {rule_id}")


def test_spanish_report_names_the_blocked_channel_the_network_the_block_and_the_rule(
    judged: tuple[object, object],
) -> None:
    frame, policy = judged
    report = comms.build(frame, policy, "es")  # type: ignore[arg-type]
    blocked = [c for c in report.channels if c.state == "blocked"]
    assert len(blocked) == 1
    c = blocked[0]
    assert c.sentence == (
        f"El canal oficial {CHANNEL} no se puede ver desde la red «sede central»: "
        "el proxy web muestra una página de bloqueo (Squid)."
    )
    assert c.since == "Bloqueado desde el 27/11/2026 09:00 UTC."  # day 1 loaded, day 2 did not
    line = _rule_line("canal-oficial")
    assert c.ask == f"Pida a TI que revise la regla «canal-oficial» ({POLICY}:{line})."
    assert c.note is not None
    assert "autobloqueo" in c.note
    ok = {(c.url, c.network) for c in report.channels if c.state == "ok"}
    assert (CHANNEL, "oficina de comunicación") in ok
    md = comms.render_markdown(report)
    assert f"«canal-oficial» ({POLICY}:{line})" in md
    assert "no se puede ver desde la red «sede central»" in md


def test_services_say_what_can_be_streamed_where_and_why_not(judged: tuple[object, object]) -> None:
    frame, policy = judged
    report = comms.build(frame, policy, "en")  # type: ignore[arg-type]
    rows = {(s.service, s.ability, s.network): s for s in report.services}
    live = rows[("youtube", "stream live", "oficina de comunicación")]
    assert live.answer == "no"
    assert live.since == "2026-11-27 09:00 UTC"
    assert live.why == ["the firewall cuts the connection as soon as it opens"]
    assert live.ask == [
        f"Ask IT to review the rule “comms-directo” ({POLICY}:{_rule_line('comms-directo')})."
    ]
    tiktok = rows[("tiktok", "view", "sede central")]
    assert tiktok.ask[0].startswith("The policy blocks it on purpose: rule “streaming”")
    assert rows[("facebook", "administer", "sede central")].answer == "yes"


def test_without_a_policy_the_report_says_so_and_still_names_blocked_channels(
    tmp_path: Path,
) -> None:
    frame = load([str(write_scenario(tmp_path / "results"))])
    report = comms.build(frame, None, "es")
    assert "No se indicó ninguna política" in report.policy_line
    blocked = [c for c in report.channels if c.state == "blocked"]
    assert [c.network for c in blocked] == ["central"]
    assert (
        blocked[0].ask
        == f"Pida a TI que le indique qué regla bloquea {CHANNEL} en la red «central»."
    )


def test_html_is_self_contained(judged: tuple[object, object]) -> None:
    frame, policy = judged
    html = comms.render_html(comms.build(frame, policy, "es"))  # type: ignore[arg-type]
    assert "<svg" in html
    assert "<style>" in html
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"\b(src|href)\s*=", html)
    target_urls = {str(u) for u in frame["url"].unique()}  # type: ignore[attr-defined]
    for url in re.findall(r"https?://[^\s\"'<>)«»]+", html):
        assert url.rstrip(".,;:") in target_urls, url
    assert "url(" not in html
    assert "@import" not in html


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    root = Path(comms.__file__).parent / "messages"
    es = yaml.safe_load((root / "es.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((root / "en.yaml").read_text(encoding="utf-8"))
    for section in (
        "techniques",
        "vendors",
        "verdicts",
        "functions",
        "abilities",
        "kinds",
        "answers",
        "text",
    ):
        assert es[section].keys() == en[section].keys(), section
        for key in es[section]:
            fields = lambda s: set(re.findall(r"{(\w+)}", str(s)))  # noqa: E731
            assert fields(es[section][key]) == fields(en[section][key]), (section, key)
    from netcheck.models import TECHNIQUES

    assert set(TECHNIQUES) <= set(es["techniques"])


def test_problems_come_first_and_a_channel_fine_everywhere_is_one_line(
    judged: tuple[object, object],
) -> None:
    frame, policy = judged
    report = comms.build(frame, policy, "es")  # type: ignore[arg-type]
    states = [c.state for c in report.channels]
    assert states == sorted(
        states, key=lambda s: {"blocked": 0, "degraded": 1, "unknown": 2}.get(s, 3)
    )
    ok_urls = [c.url for c in report.channels if c.state == "ok"]
    assert len(ok_urls) == len(set(ok_urls))
    many = [c for c in report.channels if c.state == "ok" and ", " in c.network]
    assert many
    assert all(
        re.fullmatch(
            r"El canal oficial \S+ se puede ver desde \d+ redes: «[^»]+»(, «[^»]+»)+\.", c.sentence
        )
        for c in many
    )
