"""An agent's state folder: who it is (server, probe id, network, key) and how delivery goes.

In: a folder (``--state``; by default platformdirs' per-machine data folder). Out: ``AgentState``
read from and written atomically to ``agent.json``; the Ed25519 private key in ``probe.key``
(mode 0600, created on the machine, never sent). ``status()`` is what ``netcheck agent status``
prints.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netcheck.errors import InputError
from netcheck.fleet.evidence import GENESIS, load_private

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


def load_state(folder: Path) -> AgentState:
    path = folder / STATE_FILE
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        return AgentState(**raw)
    except FileNotFoundError:
        raise InputError(
            "this agent is not enrolled (run `netcheck agent enroll` first)", file=str(path)
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"unreadable agent state: {exc}", file=str(path)) from None


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
