"""Text of a web page that both the measure stage and the classifier read: its title.

Pure: no sockets. Shared because ``measure.body`` records the title and ``classify.blockpage``
reads it from the recorded body, and classification may not import the measure stage.
"""

from __future__ import annotations

import html
import re

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
TITLE_MAX = 300


def extract_title(text: str | None, *, scan: int = 262_144) -> str | None:
    """The page's <title>, unescaped and whitespace-collapsed, at most TITLE_MAX characters."""
    if not text:
        return None
    found = _TITLE.search(text[:scan])
    return " ".join(html.unescape(found.group(1)).split())[:TITLE_MAX] if found else None
