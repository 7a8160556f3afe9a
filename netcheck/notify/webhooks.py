"""Webhooks: a generic JSON POST, Slack incoming webhooks and Microsoft Teams Workflows.

In: a title, the lines to say (each change's sentences), the changes as JSON, a kind. Out:
``payload`` → the body that kind of receiver accepts; ``post`` sends it (``httpx``, 10 s
timeout) and raises on a transport error or a non-2xx answer, which the outbox retries.

- ``json``: ``{"source": "netcheck", "kind", "title", "lang", "lines", "changes"}``;
- ``slack``: ``{"text", "blocks"}`` with a header block and section blocks of mrkdwn text,
  each at most 3,000 characters (Slack's limit for a section), at most 50 blocks;
- ``teams``: ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card 1.4>}]}``, the format
  Teams Workflows webhooks take (the old Office 365 connector MessageCard is refused there).
"""

from __future__ import annotations

from typing import Any

import httpx

SLACK_SECTION = 3_000
SLACK_BLOCKS = 50
TIMEOUT = 10.0


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sections(groups: list[list[str]], cap: int) -> list[str]:
    """Join the groups into texts of at most ``cap`` characters, cutting a group only when it
    alone is longer than ``cap``."""
    out: list[str] = []
    current = ""
    for group in groups:
        text = "\n".join(group)
        if len(text) > cap:
            text = text[: cap - 1] + "…"
        if current and len(current) + 2 + len(text) > cap:
            out.append(current)
            current = ""
        current = f"{current}\n\n{text}" if current else text
    if current:
        out.append(current)
    return out


def slack(title: str, groups: list[list[str]]) -> dict[str, Any]:
    escaped = [[_slack_escape(s) for s in g] for g in groups]
    sections = _sections(escaped, SLACK_SECTION)[: SLACK_BLOCKS - 1]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    summary = "; ".join(g[0] for g in groups if g)
    return {"text": f"{title}: {summary}"[:SLACK_SECTION], "blocks": blocks}


def teams(title: str, groups: list[list[str]]) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    for group in groups:
        body.append({"type": "TextBlock", "text": group[0], "wrap": True, "separator": True})
        body += [
            {"type": "TextBlock", "text": s, "wrap": True, "isSubtle": True, "spacing": "None"}
            for s in group[1:]
        ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def generic(
    kind: str, title: str, lang: str, groups: list[list[str]], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "source": "netcheck",
        "kind": kind,
        "title": title,
        "lang": lang,
        "lines": [" ".join(g) for g in groups],
        "changes": changes,
    }


def payload(
    hook_kind: str,
    kind: str,
    title: str,
    lang: str,
    groups: list[list[str]],
    changes: list[dict[str, Any]],
) -> dict[str, Any]:
    if hook_kind == "slack":
        return slack(title, groups)
    if hook_kind == "teams":
        return teams(title, groups)
    return generic(kind, title, lang, groups, changes)


def post(url: str, body: dict[str, Any], ca_bundle: str | None = None) -> None:
    answer = httpx.post(
        url,
        json=body,
        timeout=TIMEOUT,
        verify=ca_bundle if ca_bundle else True,
        headers={"user-agent": "netcheck-notify"},
        follow_redirects=False,
    )
    if not 200 <= answer.status_code < 300:
        raise httpx.HTTPStatusError(
            f"the webhook answered {answer.status_code}", request=answer.request, response=answer
        )
