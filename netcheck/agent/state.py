"""An agent's state folder: who it is (server, probe id, network, key) and how delivery goes.

In: a folder (``--state``; by default platformdirs' per-machine data folder). Out: ``AgentState``
read from and written atomically to ``agent.json``; the Ed25519 private key in ``probe.key``
(mode 0600, created on the machine, never sent). ``status()`` is what ``netcheck agent status``
prints.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netcheck.errors import InputError
from netcheck.fleet.evidence import GENESIS, load_private
from netcheck.netaddr import http_url_problem
from netcheck.textfile import read_text

STATE_FILE = "agent.json"
KEY_FILE = "probe.key"


def default_state_dir() -> Path:
    import platformdirs

    return Path(platformdirs.site_data_dir("netcheck-agent", appauthor=False))


@dataclass
class AgentState:
    server: str
    probe_id: str
    network: str
    ca_bundle: str | None = None
    last_seq: int = 0  # the last batch signed (in the outbox or delivered)
    last_hash: str = GENESIS
    delivered_seq: int = 0
    last_upload: str | None = None
    last_error: str | None = None
    dropped: int = 0  # records the spool had to drop, not yet reported in a batch header
    dropped_total: int = 0
    last_bandwidth: str | None = None

    def save(self, folder: Path) -> None:
        write_atomic(folder / STATE_FILE, json.dumps(asdict(self), indent=2) + "\n")


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: ``agent.json`` is a few hundred bytes; this only stops a file that is not it
MAX_STATE_BYTES = 64 * 1024
#: each field and the types it may hold (``None`` where the field is optional)
_TYPES: dict[str, tuple[type, ...]] = {
    "server": (str,),
    "probe_id": (str,),
    "network": (str,),
    "ca_bundle": (str, type(None)),
    "last_seq": (int,),
    "last_hash": (str,),
    "delivered_seq": (int,),
    "last_upload": (str, type(None)),
    "last_error": (str, type(None)),
    "dropped": (int,),
    "dropped_total": (int,),
    "last_bandwidth": (str, type(None)),
}
_REQUIRED = ("server", "probe_id", "network")
_KIND_NAMES = {str: "a string", int: "an integer", type(None): "null"}
_HASH = re.compile(r"^[0-9a-f]{64}$")


def load_state(folder: Path) -> AgentState:
    """``agent.json``, checked field by field: a state that was hand-edited, truncated or
    written by something else stops here with its file, line and field (exit 2), before a
    batch could be signed from it."""
    path = folder / STATE_FILE
    if not os.path.lexists(path):  # False too where the folder cannot be searched
        raise InputError(
            "this agent is not enrolled (run `netcheck agent enroll` first)", file=str(path)
        )
    text = read_text(str(path), "agent state", max_bytes=MAX_STATE_BYTES, allow_empty=False)
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    except RecursionError:
        raise InputError("not an agent state: nested too deep", file=str(path), line=1) from None
    if not isinstance(raw, dict):
        raise InputError("not an agent state: expected a JSON object", file=str(path), line=1)
    for name, value in raw.items():
        problem = _problem(name, value)
        if problem is not None:
            raise InputError(problem, file=str(path), line=_line_of(text, name), field=name)
    for name in _REQUIRED:
        if name not in raw:
            raise InputError("missing", file=str(path), line=1, field=name)
    return AgentState(**raw)


def _problem(name: str, value: Any) -> str | None:
    """What is wrong with one field of ``agent.json``, or None."""
    kinds = _TYPES.get(name)
    if kinds is None:
        return f"unknown field {name[:40]!r}"
    if not isinstance(value, kinds) or isinstance(value, bool):
        return "expected " + " or ".join(_KIND_NAMES[k] for k in kinds)
    if isinstance(value, int) and value < 0:
        return "a count, not negative"
    if not isinstance(value, str):
        return None
    if name == "server":
        return http_url_problem(value)
    if name == "ca_bundle" and not os.path.isfile(value):
        return f"no such file: {value[:80]!r}"
    if name == "last_hash" and not _HASH.match(value):
        return "not a SHA-256 (64 hexadecimal digits)"
    if not value.strip() and name in _REQUIRED:
        return "empty"
    if not value.isprintable():
        return "holds control characters"
    return None


def _line_of(text: str, name: str) -> int:
    """The line of ``"name":`` in the state's text (1 when not found)."""
    key = json.dumps(name)
    for number, line in enumerate(text.splitlines(), start=1):
        if key in line:
            return number
    return 1


def load_key(folder: Path) -> Ed25519PrivateKey:
    return load_private(folder / KEY_FILE)


def status(folder: Path) -> dict[str, Any]:
    from netcheck.agent.spool import Spool

    state = load_state(folder)
    spool = Spool(folder)
    return {
        "server": state.server,
        "probe_id": state.probe_id,
        "network": state.network,
        "spool_records": spool.pending_records(),
        "spool_bytes": spool.size(),
        "outbox_batches": len(spool.outbox()),
        "last_seq": state.last_seq,
        "delivered_seq": state.delivered_seq,
        "last_upload": state.last_upload,
        "last_error": state.last_error,
        "dropped_total": state.dropped_total,
    }
