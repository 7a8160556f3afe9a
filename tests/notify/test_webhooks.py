"""Change alerts from the collector's own schedule (``server serve --notify``) to webhooks on
loopback: JSON, Slack and Teams formats, each change announced once within a collection cycle,
a receiver that is down and then up gets it afterwards, and the collector keeps serving."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from netcheck.notify import webhooks
from tests.fleet.support import Collector
from tests.notify.receiver import Receiver
from tests.server.fleet import CHANNEL, POLICY, Probe, measurement

CONFIG = """\
webhooks:
  - {{url: "{url}/json", kind: json, lang: en}}
  - {{url: "{url}/slack", kind: slack, lang: es}}
  - {{url: "{url}/teams", kind: teams, lang: en}}
schedule: {{check_every: 2s, report_every: null}}
retry: {{attempts: 20, first: 1s, longest: 2s}}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()  # not started: the receiver is down when the first change happens
    yield r
    r.stop()


def _day(probe: Probe, day: str, blocked: bool) -> None:
    verdict = ("blocked", "dns-nxdomain", None) if blocked else ("accessible", None, None)
    probe.send([measurement(CHANNEL, "vpn", f"{day}T09:00:00.000Z", verdict)])


def test_alerts_reach_each_webhook_once_even_after_the_receiver_was_down(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "notify.yaml"
    config.write_text(CONFIG.format(url=receiver.url))
    c = Collector(tmp_path / "data").start("--policy", str(POLICY), "--notify", str(config))
    try:
        probe = Probe(c, "vpn")
        _day(probe, "2026-11-27", blocked=False)  # a first "works": remembered, not announced
        time.sleep(1.5)
        _day(probe, "2026-11-28", blocked=True)
        deadline = time.monotonic() + 20
        while "delivery of" not in c.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "failed (attempt 1" in c.logs()
        assert httpx.get(c.url + "/v1/health").status_code == 200  # still serving
        receiver.start()
        receiver.wait(3)
        _day(probe, "2026-11-29", blocked=True)  # the same state again: nothing new
        time.sleep(4)
        assert len(receiver.posts) == 3
        [generic] = receiver.to("/json")
        [slack] = receiver.to("/slack")
        [teams] = receiver.to("/teams")
        change = generic["changes"][0]
        assert generic["kind"] == "alerts"
        assert (change["url"], change["network"], change["state"]) == (CHANNEL, "vpn", "blocked")
        assert change["how"] == "the network's DNS server answers that the domain does not exist"
        assert "dns-nxdomain" in change["evidence"]
        assert change["record"]["seq"] == 2
        assert "BLOCKED" in generic["lines"][0]
        assert "“VPN”" in generic["lines"][0]
        assert set(slack) == {"text", "blocks"}
        assert "BLOQUEADO" in slack["blocks"][1]["text"]["text"]
        assert "«VPN»" in slack["blocks"][1]["text"]["text"]
        assert teams["type"] == "message"
        [attachment] = teams["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert attachment["content"]["type"] == "AdaptiveCard"
        assert "BLOCKED" in attachment["content"]["body"][1]["text"]
        _day(probe, "2026-11-30", blocked=False)  # unblocked: announced once too
        receiver.wait(6)
        time.sleep(3)
        assert len(receiver.posts) == 6
        assert "UNBLOCKED" in receiver.to("/json")[1]["lines"][0]
        assert "DESBLOQUEADO" in receiver.to("/slack")[1]["blocks"][1]["text"]["text"]
    finally:
        c.stop()


def test_slack_sections_stay_under_3000_characters() -> None:
    groups = [[f"line {i} " + "x" * 900, "evidence " + "y" * 400] for i in range(12)]
    groups.append(["z" * 5000])
    body = webhooks.slack("Title", groups)
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    text = "".join(s["text"]["text"] for s in sections)
    assert all(f"line {i} " in text for i in range(12))  # nothing dropped but the cut line
    assert len(body["text"]) <= 3000
    escaped = webhooks.slack("T", [["<b>&"]])["blocks"][1]["text"]["text"]
    assert escaped == "&lt;b&gt;&amp;"
