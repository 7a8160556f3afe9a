"""A stable, anonymous identity for this probe: a random id kept in the user's state directory.

Stable so that an auditor can follow one probe over months; random so that it says nothing about
the person or the machine. When the state directory is not writable, the id lives for one run.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

_ID = re.compile(r"^[0-9a-f]{32}$")


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "netcheck"


def probe_id() -> str:
    path = state_dir() / "probe_id"
    try:
        existing = path.read_text(encoding="ascii").strip()
        if _ID.match(existing):
            return existing
    except (OSError, UnicodeDecodeError):
        pass
    new = uuid.uuid4().hex
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new + "\n", encoding="ascii")
    except OSError:
        pass
    return new
